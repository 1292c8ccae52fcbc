/**
 * A filter expression that cannot be compiled. `position` is the 0-based character offset in the
 * expression where the problem starts; the message quotes the expression with a caret under that
 * spot so a user sees exactly what was wrong, e.g.
 *
 *   -F "host 10.0.0.1 and prot 80": at character 22: expected a primitive (host, net, port, …), got 'prot'
 */
export class FilterError extends Error {
  constructor(
    readonly expression: string,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`-F ${JSON.stringify(expression)}: at character ${position + 1}: ${reason}\n  ${expression}\n  ${' '.repeat(position)}^`);
    this.name = 'FilterError';
  }
}
