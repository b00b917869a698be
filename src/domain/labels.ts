/** The 80 COCO labels, in the output order of both bundled detectors. */
export const COCO_LABELS: readonly string[] = Object.freeze(
  "person|bicycle|car|motorcycle|airplane|bus|train|truck|boat|traffic light|fire hydrant|stop sign|parking meter|bench|bird|cat|dog|horse|sheep|cow|elephant|bear|zebra|giraffe|backpack|umbrella|handbag|tie|suitcase|frisbee|skis|snowboard|sports ball|kite|baseball bat|baseball glove|skateboard|surfboard|tennis racket|bottle|wine glass|cup|fork|knife|spoon|bowl|banana|apple|sandwich|orange|broccoli|carrot|hot dog|pizza|donut|cake|chair|couch|potted plant|bed|dining table|toilet|tv|laptop|mouse|remote|keyboard|cell phone|microwave|oven|toaster|sink|refrigerator|book|clock|vase|scissors|teddy bear|hair drier|toothbrush".split("|"),
);

/** Older darknet spellings and plurals people type, mapped to the COCO name. */
const ALIASES: Record<string, string> = {
  people: "person", persons: "person", human: "person", humans: "person",
  cars: "car", dogs: "dog", cats: "cat", birds: "bird", trucks: "truck", bikes: "bicycle", bike: "bicycle",
  motorbike: "motorcycle", aeroplane: "airplane", tvmonitor: "tv", sofa: "couch", pottedplant: "potted plant", diningtable: "dining table",
};

/** `Person`, `teddy_bear`, `cars` → the COCO label, or undefined when it is not one. */
export function normaliseLabel(raw: string): string | undefined {
  const text = raw.trim().toLowerCase().replace(/[_-]+/g, " ").replace(/\s+/g, " ");
  if (COCO_LABELS.includes(text)) return text;
  return ALIASES[text.replace(/ /g, "")];
}

const PLURALS: Record<string, string> = { person: "people", bus: "buses", mouse: "mice", sheep: "sheep", skis: "skis" };

/** `2 people, 1 dog`: the most of each kind a visit counted at once, most first. */
export function countsText(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([label, n]) => `${n} ${n === 1 ? label : (PLURALS[label] ?? `${label}s`)}`)
    .join(", ");
}

/** What a visit was, for lists: `person` for one, `2 people, 1 dog` for more. */
export function visitWhat(label: string, counts: Readonly<Record<string, number>>): string {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return total > 1 ? countsText(counts) : label;
}
