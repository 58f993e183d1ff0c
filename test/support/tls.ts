/**
 * A private CA, a server certificate for 127.0.0.1 and a client certificate, made by `openssl`
 * into a temporary folder: what TLS to Redis (and mutual TLS) is tested with.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA's certificate: trusting it instead must fail. */
  otherCaCert: string;
  remove(): void;
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "gateway-tls-"));
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const ca = (name: string): void =>
    openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.crt`),
    );
  const signed = (name: string, extensions: string): void => {
    writeFileSync(path(`${name}.ext`), extensions);
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", path(`${name}.key`), "-out", path(`${name}.csr`));
    openssl(
      "x509",
      "-req",
      "-in",
      path(`${name}.csr`),
      "-CA",
      path("ca.crt"),
      "-CAkey",
      path("ca.key"),
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      path(`${name}.ext`),
      "-out",
      path(`${name}.crt`),
    );
  };
  ca("ca");
  ca("other-ca");
  signed("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  signed("client", "extendedKeyUsage=clientAuth\n");
  return {
    dir,
    caCert: path("ca.crt"),
    serverCert: path("server.crt"),
    serverKey: path("server.key"),
    clientCert: path("client.crt"),
    clientKey: path("client.key"),
    otherCaCert: path("other-ca.crt"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
