// Stands in for @types/node so that `/// <reference types="node" />` (ours and undici-types')
// resolves to @types/node 22 in this setup; typeRoots points here.
/// <reference path="../../../../../node_modules/types-node-22/index.d.ts" />
