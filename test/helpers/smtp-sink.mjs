// A real SMTP server process for the invitation tests (the smtp-server package, run by
// test/helpers/smtp-server.ts). It requires AUTH with SMTP_USER / SMTP_PASSWORD, refuses recipients
// matching SMTP_REJECT with 550, and prints one JSON line per event on stdout:
// {"listening": port} once, then {"from", "to", "raw"} for every message accepted.
import { SMTPServer } from 'smtp-server';

const user = process.env.SMTP_USER ?? '';
const password = process.env.SMTP_PASSWORD ?? '';
const reject = process.env.SMTP_REJECT ? new RegExp(process.env.SMTP_REJECT, 'i') : null;
const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

const server = new SMTPServer({
  secure: false,
  disabledCommands: ['STARTTLS'],
  allowInsecureAuth: true,
  authOptional: false,
  authMethods: ['PLAIN', 'LOGIN'],
  banner: 'dirbridge test SMTP server',
  logger: false,
  onAuth(auth, _session, callback) {
    if (auth.username === user && auth.password === password) return callback(null, { user });
    const error = new Error('Authentication credentials invalid');
    error.responseCode = 535;
    return callback(error);
  },
  onRcptTo(address, _session, callback) {
    if (reject?.test(address.address)) {
      const error = new Error(`<${address.address}>: mailbox unavailable`);
      error.responseCode = 550;
      return callback(error);
    }
    return callback();
  },
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => {
      say({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
      callback();
    });
  },
});

server.listen(Number(process.env.SMTP_PORT ?? 0), '127.0.0.1', () => say({ listening: server.server.address().port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
