// Shell-style name patterns for `delete --match 'pre-*'`: `*` any run, `?` one character,
// `[abc]`/`[a-z]`/`[!x]` a class. Matching is on the whole name and case-sensitive, as
// Proxmox snapshot names are.

export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

export function globMatch(pattern: string, name: string): boolean {
  return globToRegExp(pattern).test(name);
}
