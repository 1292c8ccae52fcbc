import { TaskError } from './tasks.js';
import type { TaskControl } from './task-control.js';

/**
 * The metrics port's task routes, so a test platform can drive recordings remotely:
 *   POST /tasks/NAME/start   start (or join) task NAME on this host
 *   POST /tasks/NAME/stop    stop it (everything this host captured until now is in it)
 *   GET  /tasks              the tasks this host records into, one per line
 */
export function taskRoutes(control: TaskControl): (method: string, url: string) => Promise<{ status: number; body: string }> | null {
  return (method, url) => {
    if (method === 'GET' && url === '/tasks') return Promise.resolve({ status: 200, body: control.tasks.map((t) => `${t}\n`).join('') });
    const m = /^\/tasks\/([^/]+)\/(start|stop)$/.exec(url);
    if (m === null) return null;
    if (method !== 'POST') return Promise.resolve({ status: 405, body: `use POST ${url}\n` });
    const name = decodeURIComponent(m[1] as string);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) return Promise.resolve({ status: 400, body: `task ${JSON.stringify(name)}: expected 1..64 letters, digits, '-' or '_'\n` });
    const op = m[2] === 'start' ? control.start(name, 'http') : control.stop(name, 'http');
    return op.then(
      (t) => ({ status: 200, body: `${JSON.stringify(t)}\n` }),
      (err: unknown) => ({ status: err instanceof TaskError ? 409 : 503, body: `task ${name}: ${(err as Error).message}\n` }),
    );
  };
}
