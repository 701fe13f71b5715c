// One load generator for both servers of jwtkit's service bench (bench/service.py).
// Keep-alive HTTP/1.1 from N workers in flight, bounded in count and time.
// argv[2] is a JSON job: {url, method, headers, body, refresh: [tokens]?, refreshBody?,
// requests, seconds, concurrency}. With `refresh`, worker i starts from refresh[i] and sends
// refreshBody with REFRESH replaced by its current refresh token, taking the next one from each
// response (a rotation chain per worker). Each worker first opens its connection with one
// untimed request; the measurement starts when all N are open, so the figures are of a
// steady keep-alive load, not of N connections being set up at once (which was most of a
// 1,500-request run's slowest 1%). Prints one JSON line: requests, errors, seconds,
// per_second, p50_ms, p99_ms.
import * as http from 'node:http';

const job = JSON.parse(process.argv[2]);
const target = new URL(job.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
const latencies = [];
let issued = 0;
let errors = 0;
let deadline = Infinity;  // set when every connection is open

function send(body) {
  return new Promise((resolve) => {
    const headers = { ...job.headers };
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    const req = http.request(
      { agent, host: target.hostname, port: target.port, path: target.pathname, method: job.method, headers },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', () => resolve({ status: 0, text: '' }));
    req.setTimeout(60000, () => req.destroy());
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// One request of worker i's chain (untimed); returns the next refresh token (refresh jobs).
async function warm(refresh) {
  const body = job.refresh ? job.refreshBody.replace('REFRESH', encodeURIComponent(refresh)) : job.body;
  const res = await send(body);
  if (res.status !== 200) throw new Error(`warm-up request answered ${res.status}: ${res.text}`);
  return job.refresh ? JSON.parse(res.text).refresh_token : undefined;
}

async function worker(i, first) {
  let refresh = first;
  while (issued < job.requests && performance.now() < deadline) {
    if (job.refresh && refresh === undefined) return;  // chain broken: stop this worker
    issued += 1;
    const body = job.refresh ? job.refreshBody.replace('REFRESH', encodeURIComponent(refresh)) : job.body;
    const start = performance.now();
    const res = await send(body);
    latencies.push(performance.now() - start);
    if (res.status !== 200) {
      errors += 1;
      if (job.refresh) refresh = undefined;
    } else if (job.refresh) {
      refresh = JSON.parse(res.text).refresh_token;
    }
  }
}

const firsts = await Promise.all(
  Array.from({ length: job.concurrency }, (_, i) => warm(job.refresh ? job.refresh[i] : undefined)),
);
const start = performance.now();
deadline = start + job.seconds * 1000;
await Promise.all(firsts.map((first, i) => worker(i, first)));
const seconds = (performance.now() - start) / 1000;
agent.destroy();
latencies.sort((a, b) => a - b);
const n = latencies.length;
const pick = (q) => (n ? latencies[Math.min(n - 1, Math.floor(n * q))] : 0);
process.stdout.write(`${JSON.stringify({
  requests: n, errors, seconds, per_second: (n - errors) / seconds, p50_ms: pick(0.5), p99_ms: pick(0.99),
})}\n`);
