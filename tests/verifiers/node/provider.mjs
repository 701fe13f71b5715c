// oidc-provider as a foreign issuer for jwtkit's interop tests.
// Listens on 127.0.0.1:<free port>, issues JWT access tokens (RFC 9068) through the
// client_credentials grant with resource indicators (RFC 8707), one client per signing alg.
// Prints one JSON line {"issuer": ..., "clients": {...}} on stdout once it listens.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import Provider from 'oidc-provider';

const RESOURCE = process.env.RESOURCE || 'https://api.test';

function jwk(type, options, alg, kid) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, kid, use: 'sig' };
}

const keys = [
  jwk('ec', { namedCurve: 'P-256' }, 'ES256', 'es256-key'),
  jwk('rsa', { modulusLength: 2048 }, 'RS256', 'rs256-key'),
  jwk('ed25519', undefined, 'Ed25519', 'ed25519-key'),
];
const algs = { 'client-es256': 'ES256', 'client-rs256': 'RS256', 'client-ed25519': 'Ed25519' };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    jwks: { keys },
    clients: Object.keys(algs).map((clientId) => ({
      client_id: clientId,
      client_secret: `secret-${clientId}`,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    })),
    scopes: ['read', 'write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resourceIndicator, client) => ({
          scope: 'read write',
          audience: resourceIndicator,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: algs[client.clientId] } },
        }),
      },
    },
  });
  provider.on('server_error', (ctx, err) => { console.error('server_error', err); });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, resource: RESOURCE, clients: algs })}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);  // parent went away
process.stdin.resume();
