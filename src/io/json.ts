/**
 * JSON from files as a strict reader sees it. JSON.parse keeps the last of two equal keys in one
 * object and says nothing, so `{"dtype": "F32", "dtype": "F64"}` reads as whatever the last
 * writer meant while another reader takes the first: an ambiguous file. parseJson refuses
 * repeated keys (compared after unescaping, so "a" and "\u0061" are one key) and nesting deeper
 * than the caller's format allows, with the position of the problem.
 */

/** JSON.parse of `text`, refusing repeated keys and nesting deeper than `maxDepth`; `fail` builds the error. */
export function parseJson(text: string, maxDepth: number, fail: (problem: string) => Error): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw fail(`not JSON (${(e as Error).message})`);
  }
  checkKeys(text, maxDepth, fail);
  return value;
}

/**
 * One pass over text JSON.parse has accepted (so its syntax is right and only strings need
 * care): a stack of the open containers, with the keys seen so far in each open object.
 */
function checkKeys(text: string, maxDepth: number, fail: (problem: string) => Error): void {
  const open: (Set<string> | null)[] = []; // null: an array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (open.length === maxDepth) throw fail(`nests objects and arrays more than ${maxDepth} deep (at character ${i})`);
      open.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      open.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = open[open.length - 1] !== null;
    } else if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c /* \ */) {
          escaped = true;
          i++;
        }
      }
      const keys = open[open.length - 1];
      if (expectKey && keys) {
        const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
        if (keys.has(key)) throw fail(`key ${JSON.stringify(key)} appears twice in one object (again at character ${start}); JSON readers disagree on which one counts`);
        keys.add(key);
        expectKey = false;
      }
    }
  }
}
