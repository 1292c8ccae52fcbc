/**
 * A bad command-line value. The message names the flag, what was given and the accepted form,
 * so the CLI can print it as is and exit (only cli/ exits).
 */
export class ConfigError extends Error {
  readonly flag: string;
  readonly value: string;

  constructor(flag: string, value: string, expected: string) {
    super(`${flag} ${JSON.stringify(value)}: ${expected}`);
    this.name = 'ConfigError';
    this.flag = flag;
    this.value = value;
  }
}
