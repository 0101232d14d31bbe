"use client";
// useAsyncProcessing(): the old stack's hook, on invoiceflow. React is a peer dependency.

import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { createClient, createProcessingStore } from "./index.js";

/**
 * Per-file processing state for React, with the old stack's names and fields.
 * @param {import("./react.js").UseAsyncProcessingOptions} [options]
 */
export function useAsyncProcessing(options = {}) {
  const [owned] = useState(() => {
    if (options.store) return { store: options.store, owns: false };
    const client =
      options.client ??
      createClient({
        baseUrl: options.baseUrl,
        apiKey: options.apiKey,
        WebSocket: options.WebSocket,
        fetch: options.fetch,
        reconnect: options.reconnect,
      });
    return { store: createProcessingStore(client), owns: !options.client };
  });
  const { store, owns } = owned;

  // Open the live connection while mounted (and close it after, when this hook made it).
  useEffect(() => {
    store.connect();
    return () => {
      if (owns) store.disconnect();
    };
  }, [store, owns]);

  // The latest processingOptions, without changing the start functions' identity.
  const processingOptions = useRef(options.processingOptions);
  processingOptions.current = options.processingOptions;

  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);

  const startBatchProcessing = useCallback(
    (files, opts) => store.startBatchProcessing(files, opts ?? processingOptions.current),
    [store],
  );
  const startSingleProcessing = useCallback(
    (file, opts) => store.startSingleProcessing(file, opts ?? processingOptions.current),
    [store],
  );

  return useMemo(
    () => ({
      isConnected: snapshot.isConnected,
      files: snapshot.files,
      filesMap: snapshot.filesMap,
      startBatchProcessing,
      startSingleProcessing,
      resetProcessing: store.resetProcessing,
      retry: store.retry,
    }),
    [snapshot, store, startBatchProcessing, startSingleProcessing],
  );
}

export default useAsyncProcessing;
