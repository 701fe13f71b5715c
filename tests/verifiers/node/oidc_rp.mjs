// An independent relying party for jwtkit's OpenID Connect provider: npm openid-client 6 with a
// tiny cookie-jar "browser" that submits the login and consent forms.
// Usage: node oidc_rp.mjs <config.json>; prints one JSON line per step, then {"done": ...}.
// Steps: discovery, code + PKCE (S256), ID token validated by openid-client (signature, iss,
// aud, nonce), userinfo, refresh, SSO into a second client without a password form,
// RP-initiated logout, and a back-channel logout token received on a loopback listener and
// verified with jose (typ logout+jwt, iss, aud, events, sid, no nonce).
import { readFileSync } from 'node:fs'
import http from 'node:http'
import * as client from 'openid-client'
import * as jose from 'jose'

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const say = (step, data = {}) => console.log(JSON.stringify({ step, ...data }))
const insecure = { execute: [client.allowInsecureRequests] }

// ---- a cookie-jar browser ------------------------------------------------------------------
const jar = new Map()
async function browse (url, init = {}) {
  const headers = new Headers(init.headers || {})
  if (url.startsWith(cfg.issuer) && jar.size) {
    headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
  }
  const res = await fetch(url, { ...init, headers, redirect: 'manual' })
  for (const raw of res.headers.getSetCookie()) {
    const [pair, ...attrs] = raw.split(';')
    const i = pair.indexOf('=')
    const name = pair.slice(0, i); const value = pair.slice(i + 1)
    if (attrs.some(a => a.trim().toLowerCase() === 'max-age=0') || value === '' || value === '""') jar.delete(name)
    else jar.set(name, value)
  }
  return res
}
function formOf (html) {
  const form = html.match(/<form[^>]*action="([^"]*)"[\s\S]*?<\/form>/)
  if (!form) return null
  const fields = {}
  for (const tag of form[0].match(/<input[^>]*>/g) || []) {
    const name = tag.match(/name="([^"]*)"/)
    const value = tag.match(/value="([^"]*)"/)
    if (name) fields[name[1]] = value ? value[1].replaceAll('&#34;', '"').replaceAll('&amp;', '&') : ''
  }
  return { action: form[1], fields }
}
// Open an authorization URL; go through the pages; return the redirect that leaves the OP.
async function signIn (url, counts) {
  let res = await browse(url)
  for (let i = 0; i < 10; i++) {
    const location = res.headers.get('location')
    if ([302, 303].includes(res.status) && location) {
      const target = new URL(location, res.url || cfg.issuer).href
      if (!target.startsWith(cfg.issuer)) return target
      res = await browse(target)
      continue
    }
    const html = await res.text()
    const form = formOf(html)
    if (res.status !== 200 || !form) throw new Error(`unexpected page ${res.status}: ${html.slice(0, 200)}`)
    const body = new URLSearchParams(form.fields)
    if (form.action === '/login') {
      counts.login++
      body.set('username', cfg.username); body.set('password', cfg.password)
    } else if (form.action === '/consent') {
      counts.consent++
      body.set('decision', 'allow')
    } else throw new Error(`unexpected form ${form.action}`)
    res = await browse(cfg.issuer + form.action, {
      method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }
    })
  }
  throw new Error('too many steps')
}

// ---- the back-channel logout listener -------------------------------------------------------
const received = []
const listener = http.createServer((req, res) => {
  let body = ''
  req.on('data', c => { body += c })
  req.on('end', () => {
    received.push(new URLSearchParams(body).get('logout_token'))
    res.writeHead(200); res.end()
  })
})
await new Promise(resolve => listener.listen(cfg.backchannel_port, '127.0.0.1', resolve))

async function flow (clientId, secret, redirectUri, scope, DPoP = undefined) {
  const config = await client.discovery(new URL(cfg.issuer), clientId, secret ? { client_secret: secret } : undefined,
    secret ? client.ClientSecretBasic(secret) : client.None(), insecure)
  const verifier = client.randomPKCECodeVerifier()
  const nonce = client.randomNonce()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state
  })
  const counts = { login: 0, consent: 0 }
  const started = performance.now()
  const callback = await signIn(url.href, counts)
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true
  }, undefined, { DPoP })
  const ms = performance.now() - started
  return { config, tokens, counts, ms }
}

const one = await flow(cfg.rp.client_id, cfg.rp.secret, cfg.rp.redirect_uri, 'openid profile email offline_access')
say('discovery', { issuer: one.config.serverMetadata().issuer, pkce: one.config.serverMetadata().code_challenge_methods_supported })
const claims = one.tokens.claims()
say('code_flow', { login_forms: one.counts.login, consent_forms: one.counts.consent, ms: Math.round(one.ms), sub: claims.sub, sid: claims.sid, amr: claims.amr, id_token_alg: jose.decodeProtectedHeader(one.tokens.id_token).alg })
const info = await client.fetchUserInfo(one.config, one.tokens.access_token, claims.sub)
say('userinfo', { sub: info.sub, email: info.email, name: info.name })
const refreshed = await client.refreshTokenGrant(one.config, one.tokens.refresh_token)
say('refresh', { rotated: refreshed.refresh_token !== one.tokens.refresh_token, has_access_token: !!refreshed.access_token })
const two = await flow(cfg.spa.client_id, null, cfg.spa.redirect_uri, 'openid profile')
say('sso', { login_forms: two.counts.login, consent_forms: two.counts.consent, same_sid: two.tokens.claims().sid === claims.sid, ms: Math.round(two.ms) })

// DPoP (RFC 9449) through code + PKCE, userinfo and refresh, with openid-client's getDPoPHandle
const dpop = client.getDPoPHandle(two.config, await client.randomDPoPKeyPair('ES256'))
const bound = await flow(cfg.spa.client_id, null, cfg.spa.redirect_uri, 'openid profile offline_access', dpop)
const boundInfo = await client.fetchUserInfo(bound.config, bound.tokens.access_token, bound.tokens.claims().sub, { DPoP: dpop })
const boundRefresh = await client.refreshTokenGrant(bound.config, bound.tokens.refresh_token, undefined, { DPoP: dpop })
const atClaims = jose.decodeJwt(boundRefresh.access_token)
let bearerStatus = null
try { await client.fetchUserInfo(bound.config, bound.tokens.access_token, bound.tokens.claims().sub) } catch (e) { bearerStatus = e.status || e.code || String(e) }
say('dpop', { token_type: bound.tokens.token_type, userinfo_sub: boundInfo.sub === bound.tokens.claims().sub, refresh_token_type: boundRefresh.token_type, cnf_jkt: !!(atClaims.cnf && atClaims.cnf.jkt), bearer_refused: bearerStatus })

const end = client.buildEndSessionUrl(one.config, {
  id_token_hint: one.tokens.id_token, post_logout_redirect_uri: cfg.rp.post_logout_redirect_uri, state: 'bye'
})
const out = await browse(end.href)
say('rp_logout', { status: out.status, location: out.headers.get('location') })

const deadline = Date.now() + 10000
while (received.length < 1 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 25))
const jwks = jose.createRemoteJWKSet(new URL(one.config.serverMetadata().jwks_uri))
const { payload, protectedHeader } = await jose.jwtVerify(received[0], jwks, {
  issuer: cfg.issuer, audience: cfg.rp.client_id, typ: 'logout+jwt'
})
const event = payload.events && payload.events['http://schemas.openid.net/event/backchannel-logout']
if (!event || payload.nonce !== undefined || payload.sid !== claims.sid) throw new Error('bad logout token')
say('backchannel_logout', { typ: protectedHeader.typ, alg: protectedHeader.alg, sid_matches: payload.sid === claims.sid, sub: payload.sub, received: received.length })
let refused = null
try { await client.refreshTokenGrant(one.config, refreshed.refresh_token) } catch (e) { refused = e.error || e.code || String(e) }
say('after_logout', { refresh_refused: refused })
listener.close()
console.log(JSON.stringify({ done: true }))
