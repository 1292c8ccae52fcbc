#!/usr/bin/env -S node --max-semi-space-size=4
import { randomInt } from 'node:crypto';
import { statSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { VERSION } from '../core/version.js';
import { ConfigError } from '../core/config/errors.js';
import { MAX_SEED, parseTcpcopyOptions, type TcpcopyRawOptions } from '../core/config/tcpcopy-cli.js';
import { EXIT_USAGE, runTcpcopy } from '../app/tcpcopy.js';
import { DAEMON_CHILD_ENV, respawnDetached } from '../app/intercept-daemon.js';
import { copierDoctor, copierDoctorOptionsFrom } from '../app/doctor.js';
import { addReportOptions } from './report-options.js';
import { checkExitCode, formatReport, parseOpsOptions, type OpsRawOptions } from '../core/doctor/index.js';
import { parseStoreCommand, type StoreCommandRawOptions } from '../core/config/store-commands.js';
import { runStoreCommandCli } from '../app/store/store-command-cli.js';

const program = new Command('tcpcopy')
  .description(
    'TCP traffic copier: copies the client side of live traffic (libpcap) or of a pcap/pcapng file to a test server, ' +
      'one live TCP session per captured connection, with intercept running on the test server',
  )
  .usage('-x PORT-TARGETIP:TARGETPORT -s INTERCEPTOR [-i FILE|DEV[,DEV...]] [options]')
  .version(VERSION, '-v, --version', 'print the version and exit')
  .helpOption('-h, --help', 'show this help')
  .option('-x, --transfer <map>', 'what to replay where: [onlineIp:]port-targetIp:targetPort[,...] (required)')
  .option('-s, --intercept <list>', 'interceptor(s): ip[:port][,ip[:port]...], up to 32 (required, except with --record: record only)')
  .option('-i, --pcap <file|dev>', 'pcap or pcapng file to replay; if no such file: capture live on these interfaces (DEV[,DEV...], "any"); default: live on any')
  .option('-F, --filter <expr>', 'pcap-filter expression: ANDed with the -x ports by libpcap live; on a file our subset (host, net, port, src, dst, tcp, and, or, not, ())')
  .option('-B, --buffer <MiB>', 'live: libpcap kernel buffer, 1..4096 MiB; also sizes the copier\'s own packet ring (default 64)')
  .option('-S, --snaplen <bytes>', 'live: bytes kept of each captured frame, 96..65535 (default 65535)')
  .option('--capture-latency <ms>', 'live, pcap backend: longest a packet waits in the kernel buffer before it is read, 0..1000 ms; 0 = immediate mode (default 20)')
  .option('--record <path>', 'live: also write what the capture took to pcapng files PATH-NNNNNN.pcapng (SIGHUP starts a new one); without -s: record only (-x or -F says what)')
  .option('--record-rotate <at>', 'start a new recording file at this size or age: 500MiB, 1GiB, 10m, 1h (default: one file until SIGHUP)')
  .option('--record-files <n>', 'keep at most this many recording files, deleting the oldest (default 10)')
  .option('--record-responses', 'also record the server→client direction of the -x services (recorded only, never replayed)')
  .option('--task <name>', 'with --record nats://HOST/STREAM: record into this task (started or joined now, stopped when the last host leaves); with --task-start/--task-stop/--import: the task')
  .option('--share <k/m>', 'replaying from a stream store: take part K of M copiers replaying the same range together (1/2 and 2/2: every session once in all)')
  .option('--tasks <url>', 'list the recording tasks of a stream store (nats://HOST[:PORT]/STREAM) and exit')
  .option('--task-start <url>', 'start task --task in the stream store at URL (every host recording into the stream) and exit')
  .option('--task-stop <url>', 'stop task --task in the stream store at URL and exit')
  .option('--export <file>', 'write the range -i nats://HOST/STREAM?task=NAME (or ?since=…&until=…) to this pcapng file and exit')
  .option('--import <file>', 'store this pcap/pcapng file as task --task in --record nats://HOST/STREAM and exit')
  .option('-a, --accelerate <n>', 'replay speed-up factor ≥ 1 (default 1)')
  .option('-I, --interval <ms>', 'compress idle gaps in the capture longer than this to this (default 0 = off)')
  .option('-T, --times <n>', 'replay the file n times, each run with fresh ports and ISNs (default 1); with -u: end after n passes over the captured sessions')
  .option('--rate', 'as fast as possible: ignore capture timestamps, keep the order within each session')
  .option('--max-opening <n>', 'replaying a file: hold the file back while n sessions wait for the target to answer their handshake or first request; 0 = no limit; auto = none until the target drops openings, then adapt (default: 512 with --rate, else auto)')
  .option('-c, --client-ip <pool>', 'rewrite client addresses into this pool: ip, a.b.c.d-e, a.b.c.d-a.b.c.e, a.b.c.x, a.b.c.*, a.b.c.d/n (default: keep); with -u: the users\' addresses')
  .option('--clients <pool>', 'the same as -c (tcpburn\'s name)')
  .option('-u, --users <n>', 'load mode: keep n users running at once, each replaying one captured session after another from its own -c address and port (needs -i FILE)')
  .option('--ramp <s>', 'with -u: start the users evenly over this many seconds (default 0: all at once)')
  .option('--duration <s>', 'with -u: stop after this many seconds (sessions in flight get --end-grace); default: until -T passes or SIGINT')
  .option('--comet', 'with -u: do not replay the captured client close; connections stay open until the server closes them or the run ends')
  .option('-H, --localhost <ip>', 'replace a 127.0.0.1 client source with this address')
  .option('-n, --replicas <n>', 'sessions per captured connection, 0..1023 (0 or 1 = no copies)')
  .option('-f, --port-shift <n>', 'shift client ports by n × 2048 (+ a random offset), 0..1023 (default 0 = off)')
  .option('-m, --memory <MB>', 'stop cleanly when the process uses more than this much memory (default 2048)')
  .option('-C, --connections <n>', 'connections per interceptor, 1..11 (default 2)')
  .option('-p, --port <port>', 'interceptor port for -s entries without one (default 36524)')
  .option('-r, --percentage <n>', 'replay this percentage of the connections, 1..99 (default 0 = all)')
  .option('-M, --mtu <bytes>', 'MTU towards the target; bigger captured packets are cut (default 1500)')
  .option('-D, --mss <bytes>', 'MSS of generated SYNs and the clamp for captured ones (default 1460)')
  .option('-U, --pool-size <KB>', 'per-session cap of buffered captured bytes, KB (default 16384)')
  .option('-R, --rtt <ms>', 'use this fixed round-trip time instead of measuring it')
  .option('-t, --timeout <s>', 'end a session whose target is silent this long while work is pending (default 30 offline; negative = 600)')
  .option('-k, --keepalive <s>', 'end a session idle this long without traffic (default 720, or -t + 120 when -t is given; ≤ 0 = -t + 120)')
  .option('-l, --log <file>', 'log to FILE (appended; SIGHUP reopens it) instead of stderr')
  .option('-P, --pid-file <file>', 'write the PID to FILE (removed at exit)')
  .option('-L, --lonely', 'keep replaying (and reconnecting) when no interceptor is reachable')
  .option('-W, --no-wait', 'do not wait for responses before sending the next request')
  .option('-O, --only-syn', 'replay only connections whose SYN was captured')
  .option('-g, --gradual', 'ramp the replayed share up by one percent per second (overrides -r)')
  .option('-d, --daemon', 'run in the background (detached re-spawn)')
  .option('--quiet', 'no progress bar on a terminal')
  .option('--log-level <level>', 'error, warn, info or debug (default info)')
  .option('--stats-interval <s>', 'seconds between stats lines in the log (default 30; 0 = only the summary)')
  .option('--nice <n>', 'lower the copier\'s CPU priority by n, 0..19, so the online service wins the CPU when both want it (live copying; default 0)')
  .option('--end-grace <ms>', 'after the capture file ended, end the sessions still open once the replay was silent this long; live, after SIGINT/SIGTERM, how long sessions in flight may finish (default 3000)')
  .option('--with-payload', '192-byte records with up to 128 bytes of response payload (intercept --with-payload too)')
  .option('--seed <n>', 'seed of sampling and port choices, 0..4294967295 (default: random, printed in the summary)')
  .option('--raw-backend <mode>', 'how packets go out: auto (the sendmmsg addon when built, else raw-socket), sendmmsg or raw-socket (default auto)')
  .option('--capture-backend <mode>', 'how live capture reads: auto (the pcapbatch addon when built, else cap), pcap or cap (default auto)');
addReportOptions(program);
program
  .option('--check', 'run the preflight checks (privileges, raw socket, route to the target, interceptor reachable, capture file or device) and exit: 0 all ok, 1 problems')
  .option('--metrics-port <port>', 'serve Prometheus metrics (every stats counter + process metrics) on this port while replaying')
  .option('--metrics-bind <ip>', 'address of the metrics endpoint (default 127.0.0.1)')
  .showHelpAfterError('(run tcpcopy -h for every flag and its accepted form)')
  .addHelpText(
    'after',
    '\nExamples: tcpcopy -x 80-10.0.0.2:8080 -s 10.0.0.2 -i eth0        (live traffic to port 80 of this host)\n' +
      '          tcpcopy -x 80-10.0.0.2:8080 -s 10.0.0.2 -i traffic.pcap (a recording)\n' +
      'On the test server: intercept --install-rule 8080 (or iptables -I OUTPUT -p tcp --sport 8080 -j NFQUEUE --queue-num 0),\n' +
      'and a route from it back to the client addresses via this host.\n' +
      '\nExit status: 0 replay done, 1 nothing could be established or a runtime failure,\n' +
      '2 bad command line, input file or capture device, 3 the -m memory limit was reached.\n',
  );

/** -i names a file when one exists there (anything else may be a device list). */
function existingFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

program.exitOverride();
program.action(async (raw: TcpcopyRawOptions & OpsRawOptions & StoreCommandRawOptions) => {
  let parsed;
  let ops;
  try {
    const storeCommand = parseStoreCommand(raw);
    if (storeCommand !== null) process.exit(await runStoreCommandCli(storeCommand, raw.logLevel, process.stdout, process.stderr));
    parsed = parseTcpcopyOptions(raw, { randomSeed: randomInt(0, MAX_SEED + 1), isFile: existingFile });
    ops = parseOpsOptions(raw);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tcpcopy: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    throw err;
  }
  if (ops.check) {
    const results = await copierDoctor(copierDoctorOptionsFrom(parsed.config));
    process.stdout.write(formatReport('tcpcopy', results));
    process.exit(checkExitCode(results));
  }
  if (parsed.config.daemon && process.env[DAEMON_CHILD_ENV] === undefined) {
    const pid = respawnDetached(process.execPath, process.execArgv, process.argv.slice(1));
    const where = parsed.config.logFile === null ? ' (no -l given: its log and summary are discarded)' : `, logging to ${parsed.config.logFile}`;
    process.stdout.write(`tcpcopy: running in the background, PID ${pid}${where}\n`);
    process.exit(0);
  }
  const code = await runTcpcopy({ config: parsed.config, warnings: parsed.warnings, stdout: process.stdout, stderr: process.stderr, metrics: ops.metrics });
  process.exit(code);
});

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; every command-line error exits 2 (commander would use 1).
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  throw err;
}
