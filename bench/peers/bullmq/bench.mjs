// BullMQ peer of bench/Rrq.Bench: the same workloads, against the same redis-server, in the same run.
//   node bench.mjs roundtrip HOST PORT N WARM_MS    one trivial job at a time: add → wait for it → its value, N times,
//                                                   after WARM_MS of the same (its JIT warms, as Rrq's is)
//   node bench.mjs bulk HOST PORT N PROCESSES CONC  N trivial jobs added in bulk, run by PROCESSES worker processes
//                                                   with CONC jobs at once each; add, wait for all, read every value
//   node bench.mjs worker HOST PORT QUEUE CONC      (a worker process of the above)
// Prints one JSON line of figures (milliseconds). Workers run in processes of their own, as Rrq's do.
import { Queue, QueueEvents, Worker, Job } from 'bullmq';
import IORedis from 'ioredis';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [mode, host, port, ...rest] = process.argv.slice(2);
const connection = { host, port: Number(port), maxRetriesPerRequest: null };
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
const now = () => Number(process.hrtime.bigint()) / 1e6;

// What the server has done so far, read as bench/Rrq.Bench reads it (INFO cpu and commandstats): its CPU time (µs),
// scripts run and their time (µs), and every other command (inside scripts or not).
async function redisWork(client) {
  const cpu = await client.info('cpu');
  const stats = await client.info('commandstats');
  const field = (text, name) => Number((text.match(new RegExp(`${name}:([0-9.]+)`)) || [0, 0])[1]);
  const work = { cpuUs: (field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys')) * 1e6, scripts: 0, scriptUs: 0, commands: 0 };
  for (const line of stats.split('\n')) {
    const m = line.match(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/);
    if (!m) continue;
    if (m[1].startsWith('eval')) {
      work.scripts += Number(m[2]);
      work.scriptUs += Number(m[3]);
    } else {
      work.commands += Number(m[2]);
    }
  }
  return work;
}

// Worker processes never outlive this one, however it ends.
const spawned = [];
process.on('exit', () => spawned.forEach(c => c.kill('SIGKILL')));

// Starts `processes` worker processes on `name`, each running `conc` jobs at once; resolves when all are ready.
async function startWorkers(name, processes, conc) {
  const children = [];
  await Promise.all(Array.from({ length: processes }, () => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'worker', host, port, name, String(conc)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    spawned.push(child);
    child.stdout.on('data', d => { if (String(d).includes('ready')) resolve(); });
    child.on('exit', code => reject(new Error(`a BullMQ worker exited with ${code}`)));
  })));
  return children;
}

if (mode === 'worker') {
  const [name, conc] = rest;
  const worker = new Worker(name, async job => job.data.i + 1, { connection, concurrency: Number(conc) });
  await worker.waitUntilReady();
  process.stdout.write('ready\n');   // and runs jobs until it is killed
} else if (mode === 'roundtrip') {
  const n = Number(rest[0]);
  const warmMs = Number(rest[1] ?? 0);
  const name = `rrq-bench-bullmq-rt-${process.pid}`;
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const children = await startWorkers(name, 1, 1);
  const admin = new IORedis(connection);
  const times = [];
  const warmUntil = now() + warmMs;
  let work0;
  for (let i = 0, timed = 0; timed < n; i++) {   // round trips go untimed until the warm-up is over, as Rrq's do
    if (!work0 && now() >= warmUntil) work0 = await redisWork(admin);
    const t0 = now();
    const job = await queue.add('t', { i });
    const value = await job.waitUntilFinished(events);
    if (value !== i + 1) throw new Error(`job ${job.id} returned ${value}`);
    if (work0) {
      times.push(now() - t0);
      timed++;
    }
  }
  // What Redis did per round trip (the worker's and the events' blocking reads included).
  const work = await redisWork(admin);
  const per = key => (work[key] - work0[key]) / n;
  console.log(JSON.stringify({ median: median(times), p90: p90(times), cpuUs: per('cpuUs'), scripts: per('scripts'),
    scriptUs: per('scriptUs'), commands: per('commands') }));
  admin.disconnect();
  children.forEach(c => c.kill('SIGKILL'));
  await queue.obliterate({ force: true });
  await Promise.all([queue.close(), events.close()]);
} else if (mode === 'bulk') {
  const [n, processes, conc] = rest.map(Number);
  const name = `rrq-bench-bullmq-bulk-${process.pid}`;
  const runs = [];
  const admin = new IORedis(connection);
  let work0;
  // One queue and its worker processes, started first (not timed), as Rrq's are running before its runs; two runs
  // untimed, so their JIT warms as Rrq's workers' does, then three timed.
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  const children = await startWorkers(name, processes, conc);
  let done = 0;
  let target = 0;
  let allDone;
  events.on('completed', () => { if (++done === target) allDone(); });
  for (let r = 0; r < 5; r++) {
    if (r === 2) {
      work0 = await redisWork(admin);
    }
    const finished = new Promise(resolve => { allDone = resolve; });
    target += n;
    const t0 = now();
    const jobs = await queue.addBulk(Array.from({ length: n }, (_, i) => ({ name: 't', data: { i } })));
    await finished;
    const values = await Promise.all(jobs.map(j => Job.fromId(queue, j.id).then(x => x.returnvalue)));
    const total = now() - t0;
    values.forEach((v, i) => { if (v !== i + 1) throw new Error(`job ${jobs[i].id} returned ${v}`); });
    if (r >= 2) {
      runs.push(total / n);
    }
  }
  children.forEach(c => c.kill('SIGKILL'));
  await events.close();
  // What Redis did per job over the three runs (workers' polling and the waiting included, as for Rrq).
  const work = await redisWork(admin);
  const per = key => (work[key] - work0[key]) / (3 * n);
  console.log(JSON.stringify({ perTask: median(runs), cpuUs: per('cpuUs'), scripts: per('scripts'), scriptUs: per('scriptUs'),
    commands: per('commands') }));
  await queue.obliterate({ force: true });
  await queue.close();
  admin.disconnect();
} else {
  console.error('usage: node bench.mjs roundtrip|bulk|worker HOST PORT ...');
  process.exit(2);
}
if (mode !== 'worker') {
  process.exit(0);
}
