// pcap-filter expressions for capture files (-F): parse once, match without allocating.
export * from './errors.js';
export * from './ast.js';
export { tokenize, type Token, type TokenKind } from './lexer.js';
export { parseFilter } from './parser.js';
export * from './program.js';
