// API client used by the demo app.
const OPENAI_API_KEY = "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";
const HF_TOKEN = "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";
const mapsKey = "AIzadhzwP3M79Ntow1Uxd1i-0c0pJ3eG7SIVyAa";

export async function ask(prompt: string): Promise<string> {
  const res = await fetch("https://api.openai.com/v1/chat/completions", {
    method: "POST",
    headers: { Authorization: `Bearer ${OPENAI_API_KEY}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }] }),
  });
  return (await res.json()).choices[0].message.content;
}
