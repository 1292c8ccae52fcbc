/** The input named by -i could not be used: the message names the flag; the run exits 2. */
export class SourceOpenError extends Error {}
