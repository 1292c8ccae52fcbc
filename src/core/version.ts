/** Program version; a unit test keeps it equal to package.json's. */
export const VERSION = '0.1.0';
/** Channel protocol version spoken with stock tcpcopy 1.x (docs/wire-protocol.md §2.1). */
export const INTERNAL_VERSION = 6;
