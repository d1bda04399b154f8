// Reads a COPC file with copc.js (npm `copc`, the web viewers' reader): the header, the whole
// hierarchy (following child pages), and every node's points. Prints one JSON object with the
// node keys and counts and, per point, X Y Z (scaled), Intensity, Classification, GpsTime.
// usage: NODE_PATH=.../node_modules node copc_read.js FILE.copc.laz
const { Copc } = require('copc');

async function main() {
  const file = process.argv[2];
  const copc = await Copc.create(file);
  const nodes = {};
  const pages = [copc.info.rootHierarchyPage];
  while (pages.length) {
    const h = await Copc.loadHierarchyPage(file, pages.pop());
    Object.assign(nodes, h.nodes);
    pages.push(...Object.values(h.pages));
  }
  const names = ['X', 'Y', 'Z', 'Intensity', 'Classification', 'GpsTime'];
  const cols = Object.fromEntries(names.map((n) => [n, []]));
  const counts = {};
  for (const [key, node] of Object.entries(nodes)) {
    counts[key] = node.pointCount;
    if (!node.pointCount) continue;
    const view = await Copc.loadPointDataView(file, copc, node);
    const get = names.map((n) => view.getter(n));
    for (let i = 0; i < view.pointCount; i++) names.forEach((n, k) => cols[n].push(get[k](i)));
  }
  const h = copc.header;
  console.log(JSON.stringify({
    pointCount: h.pointCount, pointDataRecordFormat: h.pointDataRecordFormat,
    scale: h.scale, offset: h.offset, cube: copc.info.cube, spacing: copc.info.spacing,
    nodes: counts, columns: cols,
  }));
}
main().catch((e) => { console.error(e); process.exit(1); });
