// Stands in for @types/node so that `/// <reference types="node" />` (ours and undici-types')
// resolves to @types/node 26 in this setup; typeRoots points here.
/// <reference path="../../../../../node_modules/types-node-26/index.d.ts" />
