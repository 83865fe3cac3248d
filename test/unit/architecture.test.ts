// The architecture rules (docs/architecture.md), checked on syncd's own
// tree and, to show each check can fail, on fixture trees that break one
// rule each (fixtures/architecture/).

import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { cycles, layerViolations, scan, unusedExports, type LayerRule } from '../helpers/imports.js';
import { REPO_ROOT } from '../helpers/server.js';

const RULES: readonly LayerRule[] = [
  { from: 'src/core/', forbidden: /^src\/(client|server|cli)\//, why: 'core is pure: it knows no role and no CLI' },
  { from: 'src/core/', forbidden: /^(node:)?fs(\/promises)?$/, why: 'core is pure: no disk' },
  { from: 'src/client/', forbidden: /^src\/server\//, why: 'client and server share only src/protocol and src/core' },
  { from: 'src/server/', forbidden: /^src\/client\//, why: 'client and server share only src/protocol and src/core' },
];

interface Want {
  unused: string[];
  layers: string[];
  cycles: string[];
}

const FIX = join(REPO_ROOT, 'fixtures', 'architecture');

const cases: { desc: string; root: string; want: Want }[] = [
  { desc: "syncd's own tree keeps every rule", root: REPO_ROOT, want: { unused: [], layers: [], cycles: [] } },
  {
    desc: 'an export nobody imports is reported; names used by src, tests, a namespace import, a dynamic import, a re-export or a script are not',
    root: join(FIX, 'unused-export'),
    want: { unused: ['src/core/lib.ts: unusedThing', 'src/core/more.ts: alsoUnused'], layers: [], cycles: [] },
  },
  {
    desc: 'core importing a role folder or node:fs is reported',
    root: join(FIX, 'core-layer'),
    want: {
      unused: [],
      layers: [
        'src/core/impure.ts imports node:fs (core is pure: no disk)',
        'src/core/impure.ts imports src/cli/main.ts (core is pure: it knows no role and no CLI)',
        'src/core/impure.ts imports src/client/agent.ts (core is pure: it knows no role and no CLI)',
        'src/core/impure.ts imports src/server/app.ts (core is pure: it knows no role and no CLI)',
      ],
      cycles: [],
    },
  },
  {
    desc: 'client and server importing each other is reported',
    root: join(FIX, 'client-server'),
    want: {
      unused: [],
      layers: [
        'src/client/agent.ts imports src/server/app.ts (client and server share only src/protocol and src/core)',
        'src/server/app.ts imports src/client/agent.ts (client and server share only src/protocol and src/core)',
      ],
      cycles: ['src/client/agent.ts <-> src/server/app.ts'],
    },
  },
  {
    desc: 'an import cycle is reported, including one through a type-only import and a dynamic import',
    root: join(FIX, 'cycle'),
    want: { unused: [], layers: [], cycles: ['src/cli/a.ts <-> src/cli/b.ts <-> src/cli/c.ts', 'src/cli/lazy.ts <-> src/cli/main.ts'] },
  },
];

describe('architecture', () => {
  test.each(cases)('$desc', ({ root, want }) => {
    const { modules, users } = scan(root);
    expect(modules.size).toBeGreaterThan(0);
    expect({ unused: unusedExports(modules, users), layers: layerViolations(modules, RULES), cycles: cycles(modules) }).toEqual(want);
  });
});
