// JWE interop peer for jwtkit's tests: npm `jose` (panva) 6, pinned in package-lock.json.
// Reads a JSON array of jobs on stdin and writes a JSON array of results on stdout:
//   {"op": "encrypt", "alg", "enc", "jwk" | "password", "plaintext": base64url}
//     -> {"token": compact JWE}
//   {"op": "decrypt", "alg", "enc", "jwk" | "password", "token"}
//     -> {"plaintext": base64url, "header": {...}}
// A job that fails gives {"error": "<name>: <message>"}; the process itself never fails for one.
import * as jose from 'jose'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const jobs = JSON.parse(Buffer.concat(chunks).toString('utf8'))

async function keyOf (job) {
  if (job.password !== undefined) return new TextEncoder().encode(job.password)
  return jose.importJWK(job.jwk, job.alg)
}

const results = []
for (const job of jobs) {
  try {
    const key = await keyOf(job)
    if (job.op === 'encrypt') {
      const token = await new jose.CompactEncrypt(Buffer.from(job.plaintext, 'base64url'))
        .setProtectedHeader({ alg: job.alg, enc: job.enc })
        .encrypt(key)
      results.push({ token })
    } else {
      const { plaintext, protectedHeader } = await jose.compactDecrypt(job.token, key, {
        keyManagementAlgorithms: [job.alg],
        contentEncryptionAlgorithms: [job.enc]
      })
      results.push({ plaintext: Buffer.from(plaintext).toString('base64url'), header: protectedHeader })
    }
  } catch (err) {
    results.push({ error: `${err.code || err.name}: ${err.message}` })
  }
}
process.stdout.write(JSON.stringify(results))
