// Expands a JSON-LD document to N-Quads with jsonld.js, serving posgraph's context from a file and refusing
// to fetch anything else. Usage: node to-nquads.mjs DOC.json CONTEXT.jsonld CONTEXT_URL
import { readFileSync } from "node:fs";
import jsonld from "jsonld";

const [docPath, contextPath, contextUrl] = process.argv.slice(2);
const context = JSON.parse(readFileSync(contextPath, "utf8"));
const documentLoader = async (url) => {
  if (url === contextUrl) {
    return { contextUrl: null, document: context, documentUrl: url };
  }
  throw new Error(`refused to fetch ${url}`);
};
const doc = JSON.parse(readFileSync(docPath, "utf8"));
process.stdout.write(await jsonld.toRDF(doc, { format: "application/n-quads", documentLoader }));
