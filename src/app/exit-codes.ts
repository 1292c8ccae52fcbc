/** tcpcopy's exit status (the units' RestartPreventExitStatus relies on 2). */
export const EXIT_OK = 0;
/** The replay ran but established nothing, or stopped on a runtime error. */
export const EXIT_FAILED = 1;
/** Bad command line or unusable input file. */
export const EXIT_USAGE = 2;
/** -m exceeded. */
export const EXIT_MEMORY = 3;
