import { Command, CommanderError } from 'commander';
import { VERSION } from '../core/version.js';
import { ConfigError } from '../core/config/errors.js';
import { parseInterceptOptions, type InterceptRawOptions } from '../core/config/intercept.js';
import { runIntercept, type InterceptRunOptions } from '../app/intercept.js';
import { DAEMON_CHILD_ENV, reportToParent, respawnDetachedReady } from '../app/intercept-daemon.js';
import { interceptDoctor } from '../app/doctor.js';
import { checkExitCode, formatReport, parseOpsOptions, type OpsRawOptions } from '../core/doctor/index.js';

/**
 * Run options only tests set (the crash hook): the installed CLI passes none and reads no
 * environment for them; test/helpers/intercept-fault.ts passes faultAfterMs.
 */
export type InterceptTestHooks = Pick<InterceptRunOptions, 'faultAfterMs'>;

/** The intercept command line: parses argv (node, script, args…) and runs; exits the process. */
export async function interceptMain(argv: readonly string[], hooks: InterceptTestHooks = {}): Promise<void> {
  const program = new Command('intercept')
    .description(
      "NFQUEUE interceptor: takes the test server's responses, drops them, forwards their headers to tcpcopy " +
        '(wire-compatible with stock tcpcopy 1.x)',
    )
    .version(VERSION, '-v, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show this help')
    .option('-p, --port <port>', 'TCP port copiers connect to (default 36524)')
    .option('-b, --bind <ip>', 'address to listen on (default: all addresses)')
    .option('-x, --pass <ip,...>', 'pass list: responses to these addresses are let through (ACCEPT), up to 32')
    .option('-n, --combine <n>', 'maximum records per frame, 1..15 (default 16; 6 with --with-payload)')
    .option('-q, --queue-len <n>', 'NFQUEUE maximum length (default 65536; not applied by the fallback nfqueue backend)')
    .option('-s, --hash-size <n>', 'stock hash-table size: accepted for compatibility and ignored (tables here grow as needed)')
    .option('-c, --protect', 'refuse another copier while one is connected')
    .option('-D, --docker <a-b>', 'record responses to dockered address a as going to b')
    .option('-l, --log <file>', 'log to FILE (appended; SIGHUP reopens it) instead of stderr')
    .option('-P, --pid-file <file>', 'write the PID to FILE')
    .option('-d, --daemon', 'run in the background (detached re-spawn); under systemd run in the foreground')
    .option('--queue-num <n>', 'NFQUEUE number (default 0)')
    .option('--with-payload', '192-byte records carrying response payloads of up to 128 bytes (copier must agree)')
    .option('--forward-payload <bytes|all>', 'forward up to this many payload bytes of each response packet to copiers that ask (tcpcopy --report; widens the copy range)')
    .option('--allow <cidr,...>', 'copier addresses allowed to connect (default: any); others are refused and logged')
    .option('--stats-interval <seconds>', 'seconds between stats lines (default 30; 0 = only at exit)')
    .option('--log-level <level>', 'error, warn, info or debug (default info)')
    .option('--install-rule <port,...>', 'insert the NFQUEUE rule for these service ports at start, remove it at exit')
    .option('--conn-buffer <bytes>', 'bytes a copier connection may have queued before records are dropped (default 4m)')
    .option('--stuck-timeout <seconds>', 'close a copier that stays over --conn-buffer this long without reading (default 10)')
    .option('--check', 'run the preflight checks (privileges, nfnetlink_queue, rule, queue, channel port, routes) and exit: 0 all ok, 1 problems')
    .option('--check-ports <port,...>', 'with --check: service ports the rule must queue (default: the --install-rule ports)')
    .option('--check-clients <ip|cidr,...>', 'with --check: fake client addresses that need a route back (default: check for a default route)')
    .option('--check-copier <ip>', "with --check: the copier host's address (rp_filter and route check)")
    .option('--metrics-port <port>', 'serve Prometheus metrics (every stats counter + process metrics) on this port')
    .option('--metrics-bind <ip>', 'address of the metrics endpoint (default 127.0.0.1)')
    .showHelpAfterError('(run intercept -h for every flag and its accepted form)')
    .addHelpText(
      'after',
      '\nWithout --install-rule, add the rule yourself on the test server, e.g.:\n' +
        '  iptables -I OUTPUT -p tcp --sport 80 ! -o lo -j NFQUEUE --queue-num 0\n',
    );

  // Usage errors must exit 2 like tcpcopy (systemd's RestartPreventExitStatus=2), not commander's 1.
  program.exitOverride();
  program.action(async (raw: InterceptRawOptions & OpsRawOptions) => {
    let parsed;
    let ops;
    try {
      parsed = parseInterceptOptions(raw);
      ops = parseOpsOptions(raw);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`intercept: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    if (ops.check) {
      const results = await interceptDoctor({
        queueNum: parsed.config.queueNum,
        port: parsed.config.port,
        bind: parsed.config.bind,
        installRulePorts: parsed.config.installRulePorts,
        servicePorts: ops.checkPorts,
        clients: ops.checkClients,
        copier: ops.checkCopier,
      });
      process.stdout.write(formatReport('intercept', results));
      process.exit(checkExitCode(results));
    }
    if (parsed.config.daemon && process.env[DAEMON_CHILD_ENV] === undefined) {
      // process.argv, not argv: the child re-runs exactly what was started.
      const start = await respawnDetachedReady(process.execPath, process.execArgv, process.argv.slice(1));
      if (!start.ok) {
        const see = parsed.config.logFile === null ? 'run without -d to see its messages' : `see ${parsed.config.logFile}`;
        process.stderr.write(`intercept: the background daemon failed to start (PID ${start.pid}): ${start.detail}; ${see}\n`);
        process.exit(1);
      }
      const where = parsed.config.logFile === null ? ' (no -l given: its log is discarded)' : `, logging to ${parsed.config.logFile}`;
      process.stdout.write(`intercept: running in the background, PID ${start.pid}${where}\n`);
      process.exit(0);
    }
    let reported: Promise<void> = Promise.resolve();
    const code = await runIntercept({
      ...hooks,
      config: parsed.config,
      warnings: parsed.warnings,
      metrics: ops.metrics,
      onReady: () => void reportToParent({ ready: true }),
      onStartFailed: (reason) => (reported = reportToParent({ failed: reason })),
    });
    await reported; // -d: the parent learns why before this process exits
    process.exit(code);
  });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    throw err;
  }
}
