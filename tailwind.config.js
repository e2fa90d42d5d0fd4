// Tailwind v3 configuration for pglinks. Build with `make css`; the output
// static/css/app.css is committed and embedded into the binary (static/embed.go).
const defaultTheme = require("tailwindcss/defaultTheme");

/** @type {import('tailwindcss').Config} */
module.exports = {
  content: ["./views/**/*.templ", "./views/**/*.go"],
  theme: {
    extend: {
      fontFamily: {
        sans: ["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", ...defaultTheme.fontFamily.sans],
        mono: ["JetBrains Mono", "ui-monospace", "SFMono-Regular", "Menlo", ...defaultTheme.fontFamily.mono],
      },
      colors: {
        // A calm indigo-blue for primary actions and links; everything else is slate.
        brand: {
          50: "#eef4ff",
          100: "#dae6ff",
          200: "#bcd3ff",
          300: "#8eb6ff",
          400: "#598dff",
          500: "#3366ff",
          600: "#1f4ff5",
          700: "#183ce1",
          800: "#1a33b6",
          900: "#1b318f",
          950: "#152057",
        },
      },
    },
  },
  plugins: [require("@tailwindcss/forms")],
};
