// Server-made identifiers and secrets.

import { createHash, randomBytes } from 'node:crypto';

/** Node ids: "n_" + 96 random bits, url-safe. */
export function newNodeId(): string {
  return `n_${randomBytes(12).toString('base64url')}`;
}

/** Device ids: "d_" + 96 random bits. Not secret. */
export function newDeviceId(): string {
  return `d_${randomBytes(12).toString('base64url')}`;
}

/** Namespace epochs: "e_" + 72 random bits; a new one tells every client its history was replaced. */
export function newEpoch(): string {
  return `e_${randomBytes(9).toString('base64url')}`;
}

/** Device tokens: 256 random bits. Only their SHA-256 is stored. */
export function newToken(): string {
  return `syncd_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Namespace names: what the admin may pass to --namespace. */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
