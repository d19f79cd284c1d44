import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/engine/customers/intake.js';
import { isDirbridgeError } from '../../src/errors.js';

const MAIL = join(import.meta.dirname, '..', 'fixtures', 'mail');
const read = (name: string): Buffer => readFileSync(join(MAIL, name));

describe('reading a message sender with a real MIME parser', () => {
  it('decodes RFC 2047 encoded-words (UTF-8 base64) in From, through a multipart/alternative quoted-printable message', async () => {
    const { sender, date, autoSubmitted } = await parseMessage(read('encoded-from-multipart.eml'));
    expect(sender).toMatchObject({ from: 'Zoe.Unal@Partner.example', fromName: 'Zoë Ünal', sender: null, replyTo: [], listId: null, subject: 'Drucker im 2. Stock druckt nicht – bitte helfen', messageId: '<20260303091400.4711@partner.example>' });
    expect(date).toBe('2026-03-03T08:14:00.000Z');
    expect(autoSubmitted).toBe(false);
  });

  it('decodes an ISO-8859-1 Q-encoded name in a message with LF line ends and an 8-bit body', async () => {
    const { sender } = await parseMessage(read('latin1-from.eml'));
    expect(sender).toMatchObject({ from: 'jorg.muller@partner.example', fromName: 'Jörg Müller', subject: 'Zugang gesperrt' });
  });

  it('tells the author (From) from the one who posted it (Sender) and where answers go (Reply-To)', async () => {
    const { sender } = await parseMessage(read('sender-reply-to.eml'));
    expect(sender).toMatchObject({ from: 'ann@partner.example', fromName: 'Ann Lee', sender: 'assistant@partner.example', replyTo: ['team@partner.example'] });
  });

  it('sees a mailing-list message by its List-Id, an auto-reply by Auto-Submitted, and a quoted "Last, First" name', async () => {
    expect((await parseMessage(read('list-message.eml'))).sender.listId).toBe('Users of Example <users.lists.example.org>');
    expect((await parseMessage(read('auto-reply.eml'))).autoSubmitted).toBe(true);
    const mixed = await parseMessage(read('mixed-attachment.eml'));
    expect(mixed.sender).toMatchObject({ from: 'bo.lee@newcomer.example', fromName: 'Lee, Bo' });
    expect(mixed.date).toBe('2026-03-07T12:30:00.000Z');
  });

  it('refuses what is not a message', async () => {
    for (const raw of [Buffer.alloc(0), Buffer.from('\u0000\u0001\u0002 not mail at all')]) {
      const error = await parseMessage(raw).catch((e: unknown) => e);
      expect(isDirbridgeError(error) && error.code).toBe('ERR_MESSAGE_FILE');
    }
  });
});
