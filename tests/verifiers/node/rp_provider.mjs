// oidc-provider as an independent OpenID provider for jwtkit's relying party (jwtkit.web).
// Listens on 127.0.0.1:<free port>. Clients come from the CLIENTS environment variable (a JSON
// list of {client_id, client_secret, redirect_uris, post_logout_redirect_uris,
// backchannel_logout_uri}). Authorization code + PKCE (S256, required), PAR (advertised),
// RFC 9207 iss, RP-initiated logout, back-channel logout, refresh tokens, JWT access tokens for
// RESOURCE (RFC 8707 / RFC 9068). devInteractions provides the login page (any login name, any
// password); consent is granted automatically (first-party clients).
// Prints one JSON line {"issuer": ...} on stdout once it listens.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import Provider from 'oidc-provider';

const RESOURCE = process.env.RESOURCE || 'https://api.test';
const CLIENTS = JSON.parse(process.env.CLIENTS || '[]');
const AT_TTL = Number(process.env.AT_TTL || 300);

function jwk(type, options, alg, kid) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, kid, use: 'sig' };
}

const keys = [
  jwk('rsa', { modulusLength: 2048 }, 'RS256', 'rs256-key'),
  jwk('ec', { namedCurve: 'P-256' }, 'ES256', 'es256-key'),
];

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    jwks: { keys },
    clients: CLIENTS.map((c) => ({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      backchannel_logout_session_required: true,
      ...c,
    })),
    scopes: ['openid', 'profile', 'email', 'offline_access', 'notes'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    conformIdTokenClaims: false,
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({
        sub,
        preferred_username: sub,
        name: sub,
        email: `${sub}@example.test`,
        email_verified: true,
      }),
    }),
    pkce: { required: () => true },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile email offline_access');
      grant.addOIDCClaims(['name', 'preferred_username', 'email', 'email_verified']);
      grant.addResourceScope(RESOURCE, 'notes');
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'notes',
          audience: RESOURCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: AT_TTL,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
      revocation: { enabled: true },
    },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    // The relying parties of the tests listen on loopback, which oidc-provider's SSRF guard
    // refuses for back-channel logout calls: drop that guard here (tests only).
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
  });
  provider.on('server_error', (ctx, err) => { console.error('server_error', err); });
  provider.on('backchannel.error', (ctx, err) => { console.error('backchannel.error', err); });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, resource: RESOURCE })}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);  // parent went away
process.stdin.resume();
