// Nine colour themes: rotate with one button or pick one; remembered per browser.

export const THEMES = [
  { id: "midnight", name: "Midnight" },
  { id: "neon", name: "Neon" },
  { id: "sunset", name: "Sunset" },
  { id: "ocean", name: "Ocean" },
  { id: "forest", name: "Forest" },
  { id: "ember", name: "Ember" },
  { id: "daylight", name: "Daylight" },
  { id: "paper", name: "Paper" },
  { id: "bubblegum", name: "Bubblegum" },
];

const STORAGE_KEY = "echonest.theme";

export function currentTheme() {
  const id = document.documentElement.dataset.theme;
  return THEMES.find((t) => t.id === id) || THEMES[0];
}

export function applyTheme(id) {
  const theme = THEMES.find((t) => t.id === id) || THEMES[0];
  document.documentElement.dataset.theme = theme.id;
  try {
    localStorage.setItem(STORAGE_KEY, theme.id);
  } catch {
    /* private mode: the theme just isn't remembered */
  }
  const meta = document.querySelector('meta[name="theme-color"]');
  if (meta) meta.setAttribute("content", getComputedStyle(document.documentElement).getPropertyValue("--bg").trim() || "#111");
  return theme;
}

export function nextTheme() {
  const i = THEMES.indexOf(currentTheme());
  return applyTheme(THEMES[(i + 1) % THEMES.length].id);
}
