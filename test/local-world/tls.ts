// Self-signed TLS material for the local world's HTTPS stand-ins, made with the openssl CLI:
// a throw-away CA and a server certificate it signs, valid for IP:127.0.0.1 and DNS:localhost.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SYNTH_CACHE_DIR } from '../setup/run-folder';

export interface SelfSignedCertificate {
  /** The CA certificate clients trust (PEM). */
  caPem: string;
  /** The server certificate, signed by the CA (PEM). */
  certPem: string;
  /** The server certificate's private key (PEM). */
  keyPem: string;
}

/**
 * Makes a fresh CA and a server certificate for `commonName` (default "localhost"), with
 * subjectAltName IP:127.0.0.1 and DNS:localhost. EC P-256 keys keep this fast (tens of ms).
 */
export function makeSelfSignedCertificate(commonName = 'localhost'): SelfSignedCertificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-world-tls-'));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('ca.key'));
    openssl(
      'req', '-x509', '-new', '-key', file('ca.key'), '-sha256', '-days', '30',
      '-subj', '/CN=local-world-ca', '-out', file('ca.pem'),
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    );
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('server.key'));
    openssl('req', '-new', '-key', file('server.key'), '-subj', `/CN=${commonName}`, '-out', file('server.csr'));
    fs.writeFileSync(
      file('ext.cnf'),
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ].join('\n'),
    );
    openssl(
      'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
      '-CAcreateserial', '-days', '30', '-sha256', '-extfile', file('ext.cnf'), '-out', file('server.pem'),
    );
    // openssl writes "BEGIN EC PRIVATE KEY"; Node accepts it as is.
    return {
      caPem: fs.readFileSync(file('ca.pem'), 'utf8'),
      certPem: fs.readFileSync(file('server.pem'), 'utf8'),
      keyPem: fs.readFileSync(file('server.key'), 'utf8'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The certificate of one kind of stand-in (the controller emulator, the Kubernetes API emulator),
 * made once per jest run and kept in the run's folder (test/setup/run-folder.ts): each world used
 * to make two (ten openssl processes). Tests that need a certificate of another CA still call
 * makeSelfSignedCertificate. Without the run's folder (a script), a fresh one each time.
 */
export function standInCertificate(kind: 'controller' | 'kube'): SelfSignedCertificate {
  const dir = process.env[SYNTH_CACHE_DIR];
  if (!dir) return makeSelfSignedCertificate();
  const file = path.join(dir, `tls-${kind}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as SelfSignedCertificate;
  const made = makeSelfSignedCertificate();
  // Written whole, then renamed: the other worker may make one at the same moment; either stays.
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, JSON.stringify(made));
  fs.renameSync(partial, file);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as SelfSignedCertificate;
}
