// A namespace as the stores address it; its own module so that the store
// interfaces (types.ts) and the content-store interface (content-types.ts)
// can both name it without importing each other.

export interface NamespaceRef {
  /** store-internal key */
  id: number;
  name: string;
}
