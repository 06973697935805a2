// BIND master-file (zone file) parsing and named-checkzone style checks.
export { parseZoneText, parsedZoneIndex, MAX_ERRORS, MAX_INCLUDE_DEPTH, MAX_TTL } from './parser.js';
export { parseZoneFile, inputsUnchanged } from './zone-file.js';
export type { ZoneProblem, ParsedZone, ReadInclude, IncludeResult } from './parser.js';
export type { FileStamp } from './zone-file.js';
export { checkZone } from './checks.js';
export { parseRdata, parseTime, parseIPv4, parseIPv6, RdataError, compressible } from './rdata.js';
export { lex } from './lexer.js';
export type { Token, Entry } from './lexer.js';
export { MAX_GENERATED } from './generate.js';
