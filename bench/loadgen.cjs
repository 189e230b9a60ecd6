// The load generator: Node and socket.io-client, so that it is not what is measured.
//
//   node bench/loadgen.cjs CONFIG.json
//
// Modes (config.mode):
//   push      connect every pair (clinician, patient); at config.rate requests/s for
//             config.seconds, a clinician emits payment:request and the time until its
//             patient receives payment:requested is recorded. Prints one JSON object.
//   sockets   connect config.count sockets, print a line, wait for a line on stdin,
//             disconnect them all, print a line, wait again; config.cycles times.
//   webhooks  POST config.bodies (pre-signed) to config.url, config.concurrency at a
//             time over keep-alive connections; prints throughput and ack latency.
//   overload  as push, at each of config.rates for config.seconds, timing each request's ack
//             (ok, busy or an error) and, for the accepted ones, its payment:requested.
//   storm     connect config.tokens all at once, each waiting for config.wait_event if set
//             (the app's consult:state); disconnect them all and do it again, config.rounds times.
"use strict";

const fs = require("fs");
const http = require("http");
const readline = require("readline");
const { io } = require("socket.io-client");

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const now = () => Number(process.hrtime.bigint()) / 1e6;
// Each run's requests are told apart from an earlier run's on the same consults: the app takes the
// same clinician's same amount and description within 10 s for a double click (one request, no new push).
const RUN = Math.random().toString(36).slice(2, 8);

function percentile(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)] * 1000) / 1000;
}

function connect(url, token) {
  return new Promise((resolve, reject) => {
    const socket = io(url + "/consult", {
      auth: { token }, transports: ["websocket"], reconnection: false, timeout: 60000, forceNew: true,
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (e) => reject(e));
  });
}

async function connectAll(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

async function push() {
  const pairs = config.pairs;
  const pending = new Map();
  const latencies = [];
  const series = [];
  let errors = 0;
  const errorCodes = {};
  let measuring = false;
  let runStart = 0;
  const sockets = await connectAll(pairs, config.connect_concurrency || 50, async (p) => {
    const clinician = await connect(p.clinician_url, p.clinician_token);
    const patient = await connect(p.patient_url, p.patient_token);
    patient.on("payment:requested", (data) => {
      const key = data && data.request && data.request.description;
      const t0 = pending.get(key);
      if (t0 !== undefined) {
        pending.delete(key);
        if (measuring) {
          latencies.push(now() - t0);
          series.push([Math.round(t0 - runStart), Math.round((now() - t0) * 1000) / 1000]);
        }
      }
    });
    return { clinician, patient };
  });
  process.stderr.write("connected\n");
  let seq = 0;
  const interval = 1000 / config.rate;
  async function run(seconds, measure) {
    measuring = measure;
    const start = now();
    runStart = start;
    let sent = 0;
    while (now() - start < seconds * 1000) {
      const due = start + sent * interval;
      const wait = due - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const pair = sockets[seq % sockets.length];
      const description = `bench ${RUN} ${seq}`;
      seq += 1;
      sent += 1;
      pending.set(description, now());
      pair.clinician.emit("payment:request", { amount: 10000 + (seq % 5000), description }, (ack) => {
        if (!ack || ack.ok === false) {
          errors += 1;
          // Which refusal (busy, rate_limited, …): counted by the error's code.
          const code = (ack && ack.error && ack.error.code) || "no_ack";
          errorCodes[code] = (errorCodes[code] || 0) + 1;
        }
      });
    }
    // Let the last ones arrive.
    const deadline = now() + 5000;
    while (pending.size && now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return sent;
  }
  await run(config.warmup_seconds || 1, false);
  pending.clear();
  const sent = await run(config.seconds, true);
  const lost = pending.size;
  latencies.sort((a, b) => a - b);
  for (const s of sockets) { s.clinician.disconnect(); s.patient.disconnect(); }
  return {
    sent, received: latencies.length, lost, errors, error_codes: errorCodes, rate: config.rate,
    sockets: sockets.length * 2,
    p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99), max_ms: percentile(latencies, 100),
    // [ms since the measured run started when sent, latency ms], in arrival order.
    series: config.series ? series : undefined,
  };
}

async function sockets() {
  const rl = readline.createInterface({ input: process.stdin });
  const lines = rl[Symbol.asyncIterator]();
  const tokens = config.tokens;
  for (let cycle = 0; cycle < config.cycles; cycle++) {
    const t0 = now();
    const list = await connectAll(Array.from({ length: config.count }, (_, i) => tokens[i % tokens.length]),
      config.connect_concurrency || 100, (token) => connect(config.url, token));
    console.log(JSON.stringify({ cycle, connected: list.length, seconds: (now() - t0) / 1000 }));
    await lines.next();
    for (const s of list) s.disconnect();
    await new Promise((r) => setTimeout(r, 500));
    console.log(JSON.stringify({ cycle, disconnected: list.length }));
    await lines.next();
  }
  rl.close();
  return null;
}

async function webhooks() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.concurrency });
  const url = new URL(config.url);
  const bodies = config.bodies;
  const latencies = [];
  let next = 0;
  let failures = 0;
  function post(item) {
    return new Promise((resolve) => {
      const t0 = now();
      const req = http.request({
        host: url.hostname, port: url.port, path: url.pathname, method: "POST", agent,
        headers: { "Content-Type": "application/json", "Stripe-Signature": item.signature,
                   "Content-Length": Buffer.byteLength(item.body) },
      }, (res) => {
        res.resume();
        res.on("end", () => {
          latencies.push(now() - t0);
          if (res.statusCode !== 200) failures += 1;
          resolve();
        });
      });
      req.on("error", () => { failures += 1; resolve(); });
      req.end(item.body);
    });
  }
  const start = now();
  await Promise.all(Array.from({ length: config.concurrency }, async () => {
    while (next < bodies.length) await post(bodies[next++]);
  }));
  const seconds = (now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  agent.destroy();
  return {
    sent: bodies.length, failures, seconds: Math.round(seconds * 1000) / 1000,
    per_second: Math.round(bodies.length / seconds), p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
  };
}

async function overload() {
  const pairs = config.pairs;
  const arrivals = new Map();
  const sockets = await connectAll(pairs, config.connect_concurrency || 50, async (p) => {
    const clinician = await connect(p.clinician_url, p.clinician_token);
    const patient = await connect(p.patient_url, p.patient_token);
    patient.on("payment:requested", (data) => {
      const key = data && data.request && data.request.description;
      if (key && !arrivals.has(key)) arrivals.set(key, now());
    });
    return { clinician, patient };
  });
  process.stderr.write("connected\n");
  let seq = 0;
  const phases = [];
  for (const rate of config.rates) {
    const sentAt = new Map();
    const acks = new Map();
    const interval = 1000 / rate;
    const start = now();
    let sent = 0;
    while (now() - start < config.seconds * 1000) {
      const due = start + sent * interval;
      const wait = due - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const pair = sockets[seq % sockets.length];
      const description = `bench ${RUN} ${seq}`;
      seq += 1;
      sent += 1;
      sentAt.set(description, now());
      pair.clinician.emit("payment:request", { amount: 10000 + (seq % 5000), description }, (ack) => {
        const kind = ack && ack.ok === true ? "ok" : (ack && ack.error && ack.error.code) || "invalid";
        acks.set(description, [now(), kind]);
      });
    }
    // Every request gets its answer or is counted unanswered after config.grace_seconds.
    const deadline = now() + (config.grace_seconds || 5) * 1000;
    while (acks.size < sentAt.size && now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // …and every accepted one its push to the patient (which may come after the clinician's ack).
    const pushed = () => Array.from(acks).every(([d, [, kind]]) => kind !== "ok" || arrivals.has(d));
    while (!pushed() && now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    const accepted = [];
    const answers = [];
    const kinds = {};
    const series = [];
    let answeredWithin2s = 0;
    for (const [description, t0] of sentAt) {
      const ack = acks.get(description);
      if (!ack) continue;
      const [t1, kind] = ack;
      kinds[kind] = (kinds[kind] || 0) + 1;
      answers.push(t1 - t0);
      if (t1 - t0 <= 2000) answeredWithin2s += 1;
      const arrived = arrivals.get(description);
      if (kind === "ok" && arrived !== undefined) {
        accepted.push(arrived - t0);
        series.push([Math.round(t0 - start), Math.round((arrived - t0) * 1000) / 1000, 0]);
      } else if (kind !== "ok") {
        series.push([Math.round(t0 - start), Math.round((t1 - t0) * 1000) / 1000, 1]);
      }
    }
    accepted.sort((a, b) => a - b);
    answers.sort((a, b) => a - b);
    phases.push({
      rate, sent, answered: acks.size, unanswered: sent - acks.size, kinds,
      answered_within_2s: answeredWithin2s, accepted: accepted.length,
      accepted_not_pushed: (kinds.ok || 0) - accepted.length,
      accepted_per_s: Math.round((accepted.length / config.seconds) * 10) / 10,
      accepted_p50_ms: percentile(accepted, 50), accepted_p99_ms: percentile(accepted, 99),
      accepted_max_ms: percentile(accepted, 100),
      answer_p50_ms: percentile(answers, 50), answer_p99_ms: percentile(answers, 99),
      answer_max_ms: percentile(answers, 100),
      series: config.series ? series : undefined,
    });
    if (config.pause_seconds) await new Promise((r) => setTimeout(r, config.pause_seconds * 1000));
  }
  for (const s of sockets) { s.clinician.disconnect(); s.patient.disconnect(); }
  return { sockets: sockets.length * 2, phases };
}

function connectWaiting(url, token, waitEvent) {
  return new Promise((resolve, reject) => {
    const socket = io(url + "/consult", {
      auth: { token }, transports: ["websocket"], reconnection: false, timeout: 120000, forceNew: true,
    });
    if (waitEvent) socket.once(waitEvent, () => resolve(socket));
    else socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (e) => reject(e));
    // Closed by the server before it was back (e.g. a ping not answered in time): not back.
    socket.once("disconnect", (reason) => { socket.close(); reject(new Error(`disconnected: ${reason}`)); });
  });
}

// Settles with the socket, or null when it failed or was not back by the round's deadline.
function backBy(promise, deadline) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve("late"), Math.max(0, deadline - now())); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function storm() {
  const rounds = [];
  for (let round = 0; round < (config.rounds || 2); round++) {
    const t0 = now();
    const deadline = t0 + (config.round_timeout_seconds || 600) * 1000;
    const done = [];
    const opened = [];
    let failed = 0;
    let late = 0;
    const list = await Promise.all(config.tokens.map((token) => {
      const attempt = connectWaiting(config.url, token, config.wait_event);
      opened.push(attempt);
      return backBy(attempt.then((s) => { done.push(now() - t0); return s; }, () => { failed += 1; return null; }),
        deadline).then((s) => { if (s === "late") { late += 1; return null; } return s; });
    }));
    const seconds = (now() - t0) / 1000;
    done.sort((a, b) => a - b);
    rounds.push({ round, sockets: config.tokens.length, back: done.length, failed, not_back_in_time: late,
                  seconds: Math.round(seconds * 1000) / 1000, p50_ms: percentile(done, 50),
                  p99_ms: percentile(done, 99) });
    for (const s of list) if (s) s.disconnect();
    // Those still on their way are given up.
    for (const attempt of opened) attempt.then((s) => s.disconnect(), () => {});
    await new Promise((r) => setTimeout(r, (config.pause_seconds || 2) * 1000));
  }
  return { rounds };
}

const modes = { push, sockets, webhooks, overload, storm };
modes[config.mode]().then((result) => {
  // Exit only once the result is written: a pipe takes 64 KiB at a time, and exiting
  // straight after console.log cut a long series off there.
  if (result === null) process.exit(0);
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
}).catch((e) => {
  console.error(String(e && e.stack || e));
  process.exit(1);
});
