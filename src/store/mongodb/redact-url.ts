/** A MongoDB URL for people: hosts and database, never the user's password. */
export function redactMongoUrl(url: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/)(?:([^@/]*)@)?([^/?]*)(\/[^?]*)?/.exec(url);
  if (match === null) return 'mongodb://(unparseable URL)';
  const user = match[2] === undefined ? '' : `${decodeSafe(match[2].split(':')[0] ?? '')}:…@`;
  return `${match[1] ?? ''}${user}${match[3] ?? ''}${match[4] ?? ''}`;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
