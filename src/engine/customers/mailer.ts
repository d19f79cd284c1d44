import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { resolveConfigPath } from '../../../connectors/shared/paths.js';
import type { DirbridgeConfig } from '../../config/schema.js';
import { DirbridgeError } from '../../errors.js';
import type { Logger } from '../../logger.js';

export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Sends invitation e-mails. Errors are ERR_MAIL_SEND built from the SMTP answer, never from the transport's config. */
export interface Mailer {
  send(mail: OutgoingMail): Promise<{ readonly messageId: string }>;
  close(): void;
}

type SmtpConfig = NonNullable<NonNullable<DirbridgeConfig['invitations']>['smtp']>;

/** The SMTP mailer of invitations.smtp (nodemailer): STARTTLS required by default, certificates verified. */
export function createMailer(smtp: SmtpConfig, options: { readonly baseDir: string; readonly logger: Logger }): Mailer {
  const where = `SMTP ${smtp.host}:${smtp.port}`;
  if (smtp.security === 'none') options.logger.warn({ smtp: where }, 'invitations.smtp.security is none: invitations are sent in plain text');
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    ...(smtp.user === undefined || smtp.password === undefined ? {} : { auth: { user: smtp.user, pass: smtp.password } }),
    connectionTimeout: smtp.timeoutSeconds * 1000,
    greetingTimeout: smtp.timeoutSeconds * 1000,
    socketTimeout: smtp.timeoutSeconds * 1000,
    tls: {
      rejectUnauthorized: smtp.tls.rejectUnauthorized,
      minVersion: 'TLSv1.2',
      ...(smtp.tls.caFile === undefined ? {} : { ca: readFileSync(resolveConfigPath(options.baseDir, smtp.tls.caFile)) }),
    },
    logger: false,
    debug: false,
  });
  return {
    async send(mail) {
      try {
        const info = await transport.sendMail({ from: smtp.from, to: mail.to, subject: mail.subject, text: mail.text });
        return { messageId: String(info.messageId ?? '') };
      } catch (error) {
        throw sendError(where, mail.to, error);
      }
    },
    close() {
      transport.close();
    },
  };
}

/** A new error from the SMTP conversation's code and answer: the transport's own error holds its options, password included. */
function sendError(where: string, to: string, error: unknown): DirbridgeError {
  const e = error as { code?: string; responseCode?: number; response?: string; command?: string };
  const answer = e.response === undefined ? '' : `: ${e.response.replace(/\s+/g, ' ').slice(0, 200)}`;
  const why =
    e.code === 'EAUTH'
      ? `authentication failed (check invitations.smtp.user and its password reference)${answer}`
      : e.code === 'ECONNECTION' || e.code === 'ESOCKET' || e.code === 'ETIMEDOUT'
        ? `cannot reach the server (${e.code})`
        : e.code === 'EENVELOPE'
          ? `the server refused the recipient${answer}`
          : `${e.code ?? 'error'}${e.responseCode === undefined ? '' : ` ${e.responseCode}`}${answer}`;
  return new DirbridgeError('ERR_MAIL_SEND', `${where}: the invitation to ${to} was not sent: ${why}`, { retryable: e.code !== 'EAUTH' });
}
