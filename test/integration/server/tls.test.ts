// With a certificate and key the one port speaks HTTPS: REST over HTTP/1.1
// and HTTP/2, and gRPC / Connect over HTTP/2, all negotiated by ALPN.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncService } from '../../../src/gen/syncd/v1/sync_service_pb.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'syncd-tls-'));
let srv: TestServer;
let token: string;
let ca: Buffer;
beforeAll(async () => {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  ca = readFileSync(join(dir, 'cert.pem'));
  srv = await startTestServer({ tls: { cert: ca, key: readFileSync(join(dir, 'key.pem')) } });
  token = await srv.addDevice('tls', 'laptop');
});
afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

const nodeOptions = (): { ca: Buffer } => ({ ca });

describe('TLS (--tls-cert/--tls-key)', () => {
  it('the URL is https://', () => {
    expect(srv.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('REST over HTTP/1.1 with TLS', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${srv.url}/v1/status`, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let t = '';
        res.on('data', (d) => (t += d));
        res.on('end', () => resolve(`${res.statusCode} ${t}`));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body).toMatch(/^200 \{"namespace":"tls"/);
  });

  it.each([
    { description: 'gRPC', make: () => createGrpcTransport({ baseUrl: srv.url, nodeOptions: nodeOptions() }) },
    { description: 'Connect over HTTP/2', make: () => createConnectTransport({ baseUrl: srv.url, httpVersion: '2', nodeOptions: nodeOptions() }) },
  ])('$description with TLS', async ({ make }) => {
    const client = createClient(SyncService, make());
    const status = await client.getStatus({}, { headers: { authorization: `Bearer ${token}` } });
    expect(status.namespace).toBe('tls');
  });
});
