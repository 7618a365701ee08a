import { useEffect, useState } from 'preact/hooks';

// Store is a value that components follow: set() re-renders every
// component that reads it through useStore.
export class Store<T> {
  #value: T;
  #listeners = new Set<(v: T) => void>();

  constructor(value: T) {
    this.#value = value;
  }

  get(): T {
    return this.#value;
  }

  set(value: T): void {
    if (Object.is(value, this.#value)) return;
    this.#value = value;
    for (const l of [...this.#listeners]) l(value);
  }

  subscribe(fn: (v: T) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}

export function useStore<T>(s: Store<T>): T {
  const [value, setValue] = useState(s.get());
  useEffect(() => {
    setValue(s.get());
    return s.subscribe(setValue);
  }, [s]);
  return value;
}
