// GraphQL Code Generator: typed documents for every operation in src/, and the
// persisted-documents.json manifest the API server loads as its trusted documents
// (PAYOUTS_TRUSTED_DOCUMENTS). The page sends only `documentId`, never a query.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/**/*.ts", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    "./src/gql/": {
      preset: "client",
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: {
          mode: "replaceDocumentWithHash",
          hashPropertyName: "documentId",
          hashAlgorithm: "sha256",
        },
      },
      config: {
        scalars: { Cents: "number", DateTime: "string" },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
