// LOC records (RFC 1876): the presentation form
//   d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [size[m] [horizontal-precision[m] [vertical-precision[m]]]]
// to the 16 bytes of RDATA, read as BIND 9 reads it: seconds to thousandths, metres to
// centimetres; sizes and precisions default to 1 m, 10,000 m and 10 m, and are stored as a digit
// and a power of ten in centimetres, cut (not rounded) to that form as BIND does.

export class LocError extends Error {}

const EQUATOR = 2 ** 31;
/** Altitudes are stored in centimetres above a base 100,000 m below the WGS 84 spheroid. */
const ALTITUDE_BASE_CM = 10_000_000;

/** Reads one coordinate: degrees, optional minutes and seconds, then a hemisphere letter. */
function coordinate(words: string[], at: number, maxDegrees: number, hemispheres: [string, string], what: string): { value: number; next: number } {
  const parts: string[] = [];
  let i = at;
  while (i < words.length && parts.length < 3 && !hemispheres.includes(words[i]!.toUpperCase())) parts.push(words[i++]!);
  const hemisphere = words[i]?.toUpperCase();
  if (hemisphere === undefined || !hemispheres.includes(hemisphere)) {
    throw new LocError(`the ${what} must end with ${hemispheres.join(' or ')}${words[i] ? `, found "${words[i]}"` : ''}`);
  }
  if (parts.length === 0) throw new LocError(`the ${what} has no degrees`);
  const [d = '0', m = '0', s = '0'] = parts;
  if (!/^\d+$/.test(d) || Number(d) > maxDegrees) throw new LocError(`the ${what} degrees "${d}" are not a whole number from 0 to ${maxDegrees}`);
  if (!/^\d+$/.test(m) || Number(m) > 59) throw new LocError(`the ${what} minutes "${m}" are not a whole number from 0 to 59`);
  const sec = /^(\d+)(?:\.(\d{1,3}))?$/.exec(s);
  if (!sec || Number(sec[1]) > 59) throw new LocError(`the ${what} seconds "${s}" are not a number from 0 to 59.999`);
  const thousandths = ((Number(d) * 60 + Number(m)) * 60 + Number(sec[1])) * 1000 + Number((sec[2] ?? '').padEnd(3, '0'));
  if (thousandths > maxDegrees * 3_600_000) throw new LocError(`the ${what} is beyond ${maxDegrees} degrees`);
  const value = hemisphere === hemispheres[0] ? EQUATOR + thousandths : EQUATOR - thousandths;
  return { value, next: i + 1 };
}

/** Metres with up to two decimals and an optional "m", in centimetres. */
function centimetres(text: string, what: string, signed: boolean): number {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?m?$/i.exec(text);
  if (!m || (m[1] && !signed)) throw new LocError(`the ${what} "${text}" is not a length in metres (like 10m or 0.50m)`);
  const cm = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -cm : cm;
}

/** A size or precision as RFC 1876 stores it: mantissa (high nibble) and power of ten in cm. */
function precision(text: string, what: string): number {
  const cm = centimetres(text, what, false);
  if (cm > 90_000_000_00) throw new LocError(`the ${what} "${text}" is more than 90,000,000 m`);
  let exponent = 0;
  while (cm >= 10 ** (exponent + 1)) exponent++;
  return (Math.floor(cm / 10 ** exponent) << 4) | exponent;
}

/** The RDATA of a LOC record from its presentation words. */
export function locRdata(words: string[]): Uint8Array {
  const latitude = coordinate(words, 0, 90, ['N', 'S'], 'latitude');
  const longitude = coordinate(words, latitude.next, 180, ['E', 'W'], 'longitude');
  let i = longitude.next;
  const altitudeText = words[i++];
  if (altitudeText === undefined) throw new LocError('the altitude is missing');
  const altitude = centimetres(altitudeText, 'altitude', true);
  if (altitude < -ALTITUDE_BASE_CM || altitude > 2 ** 32 - 1 - ALTITUDE_BASE_CM) throw new LocError(`the altitude "${altitudeText}" is out of range (-100000m to 42849672.95m)`);
  const [size = '1m', horizontal = '10000m', vertical = '10m', ...extra] = words.slice(i);
  if (extra.length > 0) throw new LocError(`unexpected "${extra[0]}" after the vertical precision`);
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setUint8(0, 0); // version
  view.setUint8(1, precision(size, 'size'));
  view.setUint8(2, precision(horizontal, 'horizontal precision'));
  view.setUint8(3, precision(vertical, 'vertical precision'));
  view.setUint32(4, latitude.value);
  view.setUint32(8, longitude.value);
  view.setUint32(12, altitude + ALTITUDE_BASE_CM);
  return out;
}
