import { ConfigError } from './errors.js';
import { parseStoreName, parseStoreUrl, type StoreUrl } from './store-url.js';

/*
 * tcpcopy's stream-store commands: they run, print and exit instead of copying.
 *   --tasks URL                         list the stream's recording tasks
 *   --task-start URL --task NAME        start a task (every online host recording into the stream)
 *   --task-stop URL --task NAME         stop it
 *   -i URL?task=NAME --export FILE      write the task (or since/until range) to a pcapng file
 *   --import FILE --record URL --task NAME   store a pcap/pcapng file as a new task
 */

export interface StoreCommandRawOptions {
  tasks?: string;
  taskStart?: string;
  taskStop?: string;
  export?: string;
  import?: string;
  task?: string;
  pcap?: string;
  record?: string;
}

export type StoreCommand =
  | { kind: 'list'; url: StoreUrl }
  | { kind: 'start' | 'stop'; url: StoreUrl; task: string }
  | { kind: 'export'; url: StoreUrl; file: string }
  | { kind: 'import'; url: StoreUrl; task: string; file: string };

function taskOf(url: StoreUrl, raw: StoreCommandRawOptions, flag: string): string {
  const task = raw.task === undefined ? url.task : parseStoreName(raw.task, '--task', 'task');
  if (task === null) throw new ConfigError(flag, url.text, 'needs the task: --task NAME (or ?task=NAME in the URL)');
  return task;
}

/** The command given, or null for a copy/record run. Two commands at once are an error. */
export function parseStoreCommand(raw: StoreCommandRawOptions): StoreCommand | null {
  const given = (
    [
      ['--tasks', raw.tasks],
      ['--task-start', raw.taskStart],
      ['--task-stop', raw.taskStop],
      ['--export', raw.export],
      ['--import', raw.import],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (given.length === 0) return null;
  if (given.length > 1) throw new ConfigError(given[1]?.[0] ?? '', given[1]?.[1] ?? '', `one store command at a time (${given.map(([f]) => f).join(' and ')} given)`);
  const [flag, value] = given[0] as readonly [string, string];
  if (flag === '--tasks') return { kind: 'list', url: parseStoreUrl(value, flag) };
  if (flag === '--task-start' || flag === '--task-stop') {
    const url = parseStoreUrl(value, flag);
    return { kind: flag === '--task-start' ? 'start' : 'stop', url, task: taskOf(url, raw, flag) };
  }
  if (value.trim() === '') throw new ConfigError(flag, value, flag === '--export' ? 'expected the pcapng file to write' : 'expected a pcap or pcapng file to store');
  if (flag === '--export') {
    if (raw.pcap === undefined) throw new ConfigError('--export', value, 'needs the range to export: -i nats://HOST/STREAM?task=NAME (or ?since=…&until=…)');
    const url = parseStoreUrl(raw.pcap, '-i');
    if (url.task === null && url.sinceUs === null && url.untilUs === null) throw new ConfigError('-i', raw.pcap, 'with --export, name the range: ?task=NAME or ?since=…&until=…');
    return { kind: 'export', url, file: value };
  }
  if (raw.record === undefined) throw new ConfigError('--import', value, 'needs the store: --record nats://HOST/STREAM --task NAME');
  const url = parseStoreUrl(raw.record, '--record');
  return { kind: 'import', url, task: taskOf(url, raw, '--import'), file: value };
}
