// Stands in for @types/node so that `/// <reference types="node" />` (ours and undici-types')
// resolves to @types/node 20 in this setup; typeRoots points here.
/// <reference path="../../../../../node_modules/@types/node/index.d.ts" />
