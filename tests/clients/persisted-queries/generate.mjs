// Apollo's own manifest generator over a directory of .graphql files (one operation per file,
// as it requires); prints the manifest as JSON. Run from tests/test_persisted_queries.py.
import { generatePersistedQueryManifest } from "@apollo/generate-persisted-query-manifest";

const [directory] = process.argv.slice(2);
const manifest = await generatePersistedQueryManifest({ documents: [`${directory}/*.graphql`] });
process.stdout.write(JSON.stringify(manifest, null, 2));
