/**
 * Hugging Face chat templates rendered as transformers' {@code apply_chat_template} renders them:
 * {@link dev.paft.data.template.ChatTemplate} over Jinjava, with Jinja2's whitespace rules applied
 * to the source ({@code JinjaWhitespace}), rewrites where Jinjava parses Jinja2 differently
 * ({@code JinjaRewrite}), Python string/dict methods and printing ({@code PyMethodResolver},
 * {@code PyStr}, {@code PyPrint}), transformers' {@code tojson} ({@code PyJson}) and the globals
 * templates expect ({@link dev.paft.data.template.TemplateGlobals}: {@code raise_exception},
 * {@code strftime_now}). Checked byte for byte against Jinja2 on real templates
 * ({@code scripts/golden/make_chat_template_golden.py}).
 *
 * <p>Import contract: floor 3; may import errors, io, data.
 */
package dev.paft.data.template;
