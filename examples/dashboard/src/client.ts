// urql over HTTP for queries and mutations, graphql-ws for subscriptions. Every operation is a
// trusted document: the request carries its documentId and never the query text.
import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import type { Session } from "./session";

// Codegen's "replaceDocumentWithHash" mode leaves `{ __meta__: { documentId } }`; urql sends a
// document that has a top-level `documentId` and no definitions as `documentId` alone.
export function trusted<R, V>(document: TypedDocumentNode<R, V>): TypedDocumentNode<R, V> {
  const meta = (document as unknown as { __meta__?: { documentId?: string } }).__meta__;
  if (!meta?.documentId) {
    throw new Error("document has no documentId: run codegen with persistedDocuments");
  }
  return { kind: "Document", definitions: [], documentId: meta.documentId } as unknown as
    TypedDocumentNode<R, V>;
}

export interface Connection {
  client: Client;
  ws: WsClient;
  close(): void;
}

export function connect(
  session: Session,
  onSocketClosed: (code: number, reason: string) => void,
): Connection {
  let closing = false;
  const ws = createWsClient({
    url: session.wsUrl,
    connectionParams: () => ({ "x-api-key": session.token }),
    retryAttempts: 0, // the page reconnects itself, with a fresh session and its cursors
    lazy: true,
    on: {
      closed: (event) => {
        const close = event as CloseEvent;
        if (!closing) onSocketClosed(close.code, close.reason);
      },
    },
  });
  const client = new Client({
    url: session.apiUrl,
    requestPolicy: "network-only",
    preferGetMethod: false,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${session.token}` } }),
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: ws.subscribe(
              // A trusted document travels as its documentId; graphql-ws insists on a string
              // `query`, so it gets an empty one (the server takes the manifest's text).
              { ...request, query: request.query ?? "" },
              sink,
            ),
          }),
        }),
      }),
    ],
  });
  return {
    client,
    ws,
    close() {
      closing = true;
      void ws.dispose();
    },
  };
}
