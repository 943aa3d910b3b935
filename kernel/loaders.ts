import DataLoader from 'dataloader';
import { currentRequestState } from './context';

const LOADERS = Symbol('loaders');
type WithLoaders = { [LOADERS]?: Map<string, DataLoader<string, unknown>> };

/** A DataLoader that lives for the current request only, so batching never crosses callers or tenants. */
export function requestLoader<V>(
  key: string,
  batch: (ids: readonly string[]) => Promise<(V | null)[]>,
): DataLoader<string, V | null> {
  const state = currentRequestState() as unknown as WithLoaders;
  const loaders = (state[LOADERS] ??= new Map());
  let loader = loaders.get(key) as DataLoader<string, V | null> | undefined;
  if (!loader) {
    loader = new DataLoader<string, V | null>(batch);
    loaders.set(key, loader as DataLoader<string, unknown>);
  }
  return loader;
}
