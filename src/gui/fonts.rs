//! Fallback fonts from this computer after egui's own: names, addresses and event titles
//! come in every script and with symbols, and a box in place of a letter reads as damage.

use eframe::egui;

/// Font files tried, in order; those present are added after egui's fonts. Each covers
/// scripts or symbols egui's built-in fonts lack (Georgian, Armenian, CJK, arrows, dingbats).
const CANDIDATES: &[&str] = &[
    // Linux (Debian/Ubuntu/Fedora paths)
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansSymbols2-Regular.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    // macOS
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "/System/Library/Fonts/Apple Symbols.ttf",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    // Windows
    "C:\\Windows\\Fonts\\seguisym.ttf",
    "C:\\Windows\\Fonts\\segoeui.ttf",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\malgun.ttf",
];

/// Past this, a file is not a text font we want in memory for the whole session.
const MAX_FONT_BYTES: u64 = 40 * 1024 * 1024;

/// Adds every present [`CANDIDATES`] file as a fallback of both font families; returns how
/// many were added. A missing or unreadable file is skipped: the window works without it.
pub fn install_fallbacks(ctx: &egui::Context) -> usize {
    install_from(ctx, CANDIDATES.iter().map(std::path::Path::new))
}

fn install_from<'a>(
    ctx: &egui::Context,
    files: impl Iterator<Item = &'a std::path::Path>,
) -> usize {
    let mut fonts = egui::FontDefinitions::default();
    let mut added = 0;
    for path in files {
        let readable =
            std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= MAX_FONT_BYTES);
        let Some(bytes) = readable.then(|| std::fs::read(path).ok()).flatten() else {
            continue;
        };
        let name = format!("fallback-{added}");
        fonts.font_data.insert(
            name.clone(),
            std::sync::Arc::new(egui::FontData::from_owned(bytes)),
        );
        for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
            fonts.families.entry(family).or_default().push(name.clone());
        }
        added += 1;
    }
    if added > 0 {
        ctx.set_fonts(fonts);
    }
    added
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Georgian and the "⌘" sign are missing from egui's own fonts and present in DejaVu
    /// Sans, which CI installs (`.ci/run`).
    #[test]
    fn letters_egui_lacks_come_from_a_system_font() {
        let dejavu = CANDIDATES
            .iter()
            .map(std::path::Path::new)
            .find(|p| p.file_name().is_some_and(|n| n == "DejaVuSans.ttf") && p.exists());
        let Some(dejavu) = dejavu else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install fonts-dejavu-core"
            );
            return;
        };
        let text = "ქართული ⌘";
        let has = |ctx: &egui::Context| {
            let mut found = false;
            let mut output = ctx.run_ui(egui::RawInput::default(), |ui| {
                found = ui
                    .ctx()
                    .fonts_mut(|f| f.has_glyphs(&egui::FontId::proportional(14.0), text));
            });
            // No painter here takes the font atlas.
            output.textures_delta.clear();
            found
        };
        let ctx = egui::Context::default();
        assert!(!has(&ctx), "egui's own fonts already have {text}");
        let ctx = egui::Context::default();
        assert_eq!(install_from(&ctx, std::iter::once(dejavu)), 1);
        assert!(has(&ctx));
    }
}
