/**
 * The first JSON syntax error of a text and where it is (JSON.parse does not always say where), or
 * null when the text is valid JSON (RFC 8259). A small recursive-descent checker: it builds nothing.
 */
export function jsonSyntaxError(text: string): { readonly at: number; readonly message: string } | null {
  const checker = new Checker(text);
  try {
    checker.document();
    return null;
  } catch (error) {
    if (error instanceof JsonSyntax) return { at: error.at, message: error.message };
    throw error;
  }
}

class JsonSyntax extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 200;

class Checker {
  private i = 0;

  constructor(private readonly text: string) {}

  document(): void {
    if (this.text.charCodeAt(0) === 0xfeff) this.i = 1;
    this.value(0);
    this.space();
    if (this.i < this.text.length) this.fail(`unexpected ${this.here()} after the end of the document`);
  }

  private value(depth: number): void {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    this.space();
    const ch = this.text[this.i];
    if (ch === '{') return this.object(depth);
    if (ch === '[') return this.array(depth);
    if (ch === '"') return this.string();
    if (ch === 't') return this.literal('true');
    if (ch === 'f') return this.literal('false');
    if (ch === 'n') return this.literal('null');
    return this.number();
  }

  private object(depth: number): void {
    this.i++;
    this.space();
    if (this.text[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.space();
      if (this.text[this.i] !== '"') this.fail(`expected a property name in double quotes, found ${this.here()}`);
      this.string();
      this.space();
      if (this.text[this.i] !== ':') this.fail(`expected ":" after a property name, found ${this.here()}`);
      this.i++;
      this.value(depth + 1);
      if (this.closes('}', 'an object')) return;
    }
  }

  private array(depth: number): void {
    this.i++;
    this.space();
    if (this.text[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
      if (this.closes(']', 'an array')) return;
    }
  }

  /** After a member: "," continues (false), the closing bracket ends (true), anything else fails. */
  private closes(bracket: string, what: string): boolean {
    this.space();
    const ch = this.text[this.i];
    this.i++;
    if (ch === ',') return false;
    if (ch === bracket) return true;
    this.i--;
    return this.fail(`expected "," or "${bracket}" in ${what}, found ${this.here()}`);
  }

  private string(): void {
    const { text } = this;
    this.i++;
    while (this.i < text.length && text[this.i] !== '"') {
      if (text.charCodeAt(this.i) < 0x20) this.fail('a control character inside a string (a line break must be written \\n)');
      if (text[this.i] === '\\') {
        this.i++;
        if (text[this.i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(this.i + 1, this.i + 5))) this.fail('a bad \\u escape');
          this.i += 4;
        } else if (!'"\\/bfnrt'.includes(text[this.i] ?? 'x')) this.fail('a bad escape in a string');
      }
      this.i++;
    }
    if (this.i >= text.length) this.fail('a string is not closed');
    this.i++;
  }

  private number(): void {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (m === null) this.fail(`unexpected ${this.here()}`);
    this.i += (m as RegExpExecArray)[0].length;
  }

  private literal(word: string): void {
    if (this.text.startsWith(word, this.i)) this.i += word.length;
    else this.fail(`unexpected ${this.here()}`);
  }

  private space(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i] as string)) this.i++;
  }

  private here(): string {
    return this.i >= this.text.length ? 'the end of the file' : `"${this.text.slice(this.i, this.i + 12)}"`;
  }

  private fail(message: string): never {
    throw new JsonSyntax(this.i, message);
  }
}
