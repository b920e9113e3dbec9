#!/usr/bin/python3
"""Golden chat-template renderings for paft's ChatTemplate tests.

Renders conversations with Jinja2 the way transformers' ``apply_chat_template`` does and writes
the expected strings (or the expected error) to
``src/test/resources/chat_templates/golden.json``. ``ChatTemplateGoldenTest`` then checks that
paft's Jinjava rendering is byte-identical.

The environment reproduces what transformers sets up (written here from its documented
behaviour, not copied):

* ``jinja2.sandbox.ImmutableSandboxedEnvironment`` with ``trim_blocks=True``,
  ``lstrip_blocks=True`` and the ``jinja2.ext.loopcontrols`` extension, plus a
  ``{% generation %}...{% endgeneration %}`` tag that just renders its body (transformers uses
  it to track assistant tokens; the text is unchanged);
* a ``tojson`` filter that is ``json.dumps(x, ensure_ascii=False, indent=..., separators=...,
  sort_keys=...)`` (no HTML escaping, unlike Jinja2's own ``tojson``);
* globals ``raise_exception(msg)`` (raises ``jinja2.TemplateError``) and
  ``strftime_now(fmt)`` (here a fixed clock, ``FIXED_NOW``, so the output is reproducible);
* render variables ``messages``, ``tools`` (``None`` when not given), ``documents`` (``None``
  when not given), ``add_generation_prompt``, the tokenizer's special tokens (every top-level
  ``*_token`` string of ``tokenizer_config.json``, written as a string or as
  ``{"content": ...}``; ``null`` tokens are left out, as transformers' ``special_tokens_map``
  does), then any extra keyword arguments (``date_string``, ``enable_thinking``, ...), which win
  over the special tokens.

Run with Debian's Python and Jinja2 (``apt-get install -y python3-jinja2``), from the
repository root::

    /usr/bin/python3 scripts/golden/make_chat_template_golden.py
"""
import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RES = os.path.join(ROOT, "src", "test", "resources")
OUT = os.path.join(RES, "chat_templates", "golden.json")

# strftime_now's clock in the golden file; the Java test gives ChatTemplate the same instant.
FIXED_NOW = datetime.datetime(2024, 9, 5, 14, 3, 7)

# Real templates: name -> tokenizer directory (relative to src/test/resources).
REAL = {
    "zephyr": "tokenizers/llama2",
    "llama3": "tokenizers/llama3",
    "llama3_1": "chat_templates/llama3_1",
    "llama3_2": "chat_templates/llama3_2",
    "qwen2_5": "chat_templates/qwen2_5",
    "qwen3": "chat_templates/qwen3",
    "gemma3": "chat_templates/gemma3",
    "mistral_nemo": "chat_templates/mistral_nemo",
    "deepseek_v3": "chat_templates/deepseek_v3",
}


class GenerationTag(jinja2.ext.Extension):
    """``{% generation %}body{% endgeneration %}``: renders the body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _strftime_now(fmt):
    return FIXED_NOW.strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


def token_content(v):
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and isinstance(v.get("content"), str):
        return v["content"]
    return None


def read_config(rel_dir):
    with open(os.path.join(RES, rel_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    special = {}
    for k, v in cfg.items():
        if k.endswith("_token") and token_content(v) is not None:
            special[k] = token_content(v)
    tmpl = cfg.get("chat_template")
    if isinstance(tmpl, list):
        tmpl = next(t["template"] for t in tmpl if t.get("name") == "default")
    return tmpl, special


def render(env, template, special, messages, add_generation_prompt, variables):
    variables = dict(variables or {})
    tools = variables.pop("tools", None)
    documents = variables.pop("documents", None)
    kwargs = {**special, **variables}
    compiled = env.from_string(template)
    return compiled.render(messages=messages, tools=tools, documents=documents,
                           add_generation_prompt=add_generation_prompt, **kwargs)


# ---------------------------------------------------------------------------------------------
# Conversations

SYS = {"role": "system", "content": "You are a helpful assistant."}
U1 = {"role": "user", "content": "Hello! How are you?"}
A1 = {"role": "assistant", "content": "I'm fine, thanks. How can I help?"}
U2 = {"role": "user", "content": "What is 2 + 2?"}
A2 = {"role": "assistant", "content": "2 + 2 = 4."}
UNI_U = {"role": "user",
         "content": "  Grüße aus Zürich! \"double\" and 'single' quotes, back\\slash, tab\there,\n"
                    "日本語のテキスト, emoji 🙂👍, and <tags> & ampersands.  "}
UNI_A = {"role": "assistant", "content": "\n Ça va très bien — merci ! «ok» 🚀\n\n"}
EMPTY_U = {"role": "user", "content": ""}
EMPTY_A = {"role": "assistant", "content": ""}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city (°C or °F), e.g. \"Zürich\".",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 1},
                "threshold": {"type": "number", "default": 0.5},
                "verbose": {"type": "boolean", "default": False},
                "extra": {"type": ["string", "null"], "default": None},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a time zone.",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": []},
    },
}
TOOLS = [WEATHER_TOOL, TIME_TOOL]
WEATHER_Q = {"role": "user", "content": "What's the weather in Zürich?"}
CALL_ARGS = {"city": "Zürich", "unit": "celsius", "days": 2}


def tool_call(call_id="call12345", arguments=CALL_ARGS):
    return {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}


CALL_MSG = {"role": "assistant", "content": None, "tool_calls": [tool_call()]}
CALL_MSG_TEXT = {"role": "assistant", "content": "Let me check.", "tool_calls": [tool_call()]}
CALL_MSG_STRARGS = {"role": "assistant", "content": None,
                    "tool_calls": [tool_call(arguments=json.dumps(CALL_ARGS, ensure_ascii=False))]}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
               "content": "{\"temperature\": 21.5, \"unit\": \"celsius\", \"sky\": \"sunny ☀\"}"}
TOOL_ANSWER = {"role": "assistant", "content": "It is 21.5 °C and sunny in Zürich."}

GENERIC = [
    ("user_gen", [U1], True, None),
    ("user_nogen", [U1], False, None),
    ("system_user_assistant", [SYS, U1, A1], False, None),
    ("system_multiturn_gen", [SYS, U1, A1, U2], True, None),
    ("multiturn_nosystem", [U1, A1, U2, A2], False, None),
    ("multiturn_nosystem_gen", [U1, A1, U2], True, None),
    ("unicode_quotes", [SYS, UNI_U, UNI_A], False, None),
    ("unicode_quotes_gen", [UNI_U], True, None),
    ("empty_contents", [EMPTY_U, EMPTY_A], False, None),
    ("empty_system", [{"role": "system", "content": ""}, U1], True, None),
    ("assistant_first", [A1, U1], False, None),
    ("two_users", [U1, U2], True, None),
    ("system_only_gen", [SYS], True, None),
]

TOOL_CASES = [
    ("tools_user_gen", [WEATHER_Q], True, {"tools": TOOLS}),
    ("tools_system_user_gen", [SYS, WEATHER_Q], True, {"tools": TOOLS}),
    ("tools_call_result_answer", [SYS, WEATHER_Q, CALL_MSG, TOOL_RESULT, TOOL_ANSWER], False, {"tools": TOOLS}),
    ("tools_call_with_text", [WEATHER_Q, CALL_MSG_TEXT, TOOL_RESULT], True, {"tools": TOOLS}),
    ("tools_call_string_args", [WEATHER_Q, CALL_MSG_STRARGS, TOOL_RESULT], True, {"tools": TOOLS}),
    ("tools_empty_list", [WEATHER_Q], True, {"tools": []}),
]

SPECIFIC = {
    "llama3_2": [
        ("date_string", [SYS, U1], True, {"date_string": "01 Jan 2025"}),
        ("strftime_now", [U1], True, None),
        ("tools_in_system", [SYS, WEATHER_Q], True, {"tools": TOOLS, "tools_in_user_message": False,
                                                      "date_string": "26 Jul 2024"}),
        ("tools_no_user_message", [SYS], True, {"tools": TOOLS}),
        ("two_tool_calls", [WEATHER_Q, {"role": "assistant", "content": None,
                                        "tool_calls": [tool_call(), tool_call("call67890")]}], False, {"tools": TOOLS}),
        ("tool_result_mapping", [WEATHER_Q, CALL_MSG, {"role": "tool", "content": {"temperature": 21.5}}], True, None),
    ],
    "qwen3": [
        ("thinking_in_content", [U1, {"role": "assistant", "content": "<think>\nHmm, a greeting.\n</think>\n\nHi there!"}],
         False, None),
        ("thinking_earlier_turn", [U1, {"role": "assistant", "content": "<think>\nold thought\n</think>\n\nHi!"}, U2],
         True, None),
        ("reasoning_content_field", [U1, {"role": "assistant", "content": "Hi!", "reasoning_content": "A greeting."}],
         False, None),
        ("enable_thinking_false", [U1], True, {"enable_thinking": False}),
        ("enable_thinking_true", [U1], True, {"enable_thinking": True}),
        ("tool_response_in_user", [WEATHER_Q, CALL_MSG_TEXT,
                                   {"role": "user", "content": "<tool_response>\nsunny\n</tool_response>"}], True, None),
    ],
    "mistral_nemo": [
        ("bad_tool_call_id", [WEATHER_Q, {"role": "assistant", "content": None, "tool_calls": [tool_call("short")]}],
         False, {"tools": TOOLS}),
        ("unknown_role", [U1, {"role": "narrator", "content": "x"}], False, None),
    ],
    "gemma3": [
        ("content_parts", [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                           {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " Describe. "}]}],
         True, None),
    ],
}

# Small hand-written templates that pin down one Jinja2 behaviour each.
PROBES = {
    "probe_none": "{{ none }}|{{ messages[0].missing }}|{% set x = none %}{{ x }}|{{ x is none }}|{{ tools }}|{{ documents }}",
    "probe_literals": "{{ true }} {{ false }} {{ 1 == 1 }} {{ 3 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ 2.50 }} {{ 10 ** 2 }} {{ -0.0 }}",
    "probe_containers": "{{ [1, 'a', none, true] }} {{ {'k': 'v', 'n': 1} }} {{ ('t', 1) }} {{ messages[0] }}",
    "probe_tojson": "{% if tools %}{{ tools | tojson }}\n{{ tools[0] | tojson(indent=2) }}\n{{ tools[0].function.parameters | tojson(separators=(',', ':')) }}\n"
                    "{{ 'Zürich \"q\" <b> & \\\\ \n\t' | tojson }} {{ none | tojson }} {{ true | tojson }} {{ 1.5 | tojson }}"
                    " {{ tools[0].function.parameters | tojson(sort_keys=true) }} {{ [] | tojson(indent=2) }} {{ {} | tojson(indent=2) }}{% endif %}",
    "probe_loopcontrols": "{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}"
                          "{% if loop.index > 2 %}{% break %}{% endif %}[{{ loop.index0 }}:{{ m.role }}]{% endfor %}",
    "probe_loop_vars": "{% for m in messages %}{{ loop.index }}/{{ loop.length }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}"
                       "{% if not loop.first %}<{{ loop.previtem.role }}{% endif %}{% if not loop.last %}>{{ loop.nextitem.role }}{% endif %};{% endfor %}",
    "probe_namespace": "{% set ns = namespace(n=0, s='', flag=false) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                       "{% set ns.s = ns.s + m.role[0] %}{% if m.role == 'assistant' %}{% set ns.flag = true %}{% endif %}{% endfor %}"
                       "{{ ns.n }}{{ ns.s }}{{ ns.flag }}",
    "probe_tests": "{% for v in [messages, messages[0], messages[0].content, 1, 1.5, none, true] %}"
                   "{{ v is string }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}{{ v is number }}{{ v is none }}"
                   "{{ v is defined }}{{ v is boolean }}{{ v is integer }}{{ v is float }};{% endfor %}"
                   "{{ undefined_var is defined }}{{ undefined_var is undefined }}{{ messages[0].content is defined }}"
                   "{{ messages[0].nope is defined }}{{ tools is defined }}{{ tools is none }}{{ 4 is even }}{{ 3 is odd }}"
                   "{{ 6 is divisibleby(3) }}{{ 'a' is in 'abc' }}{{ messages[0].role is equalto 'system' }}{{ true is true }}{{ none is false }}",
    "probe_filters": "{{ messages | length }}|{{ messages[0].content | trim }}|{{ messages[0].content | length }}|"
                     "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|"
                     "{{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='role') | join(',') }}|"
                     "{{ messages | map(attribute='role') | list }}|{{ messages[1:] | length }}|{{ messages[::-1][0].role }}|"
                     "{{ messages[-1].role }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ 'hello world' | title }}|{{ 'x' | capitalize }}|"
                     "{{ [3, 1, 2] | sort | list }}|{{ [1, 2] | first }}{{ [1, 2] | last }}|{{ 'a,b' | replace(',', ';') }}|"
                     "{{ 42 | string }}|{{ '7' | int + 1 }}|{{ none | default('dflt') }}|{{ undefined_var | default('u') }}|"
                     "{{ [none, 1] | select | list }}|{{ 'abc' | reverse }}|{{ [1, 2, 3] | sum }}|{{ 'x' * 3 }}|{{ 'a' ~ 1 ~ none }}|"
                     "{{ messages | selectattr('tool_calls', 'undefined') | list | length }}|{{ messages | selectattr('role', 'in', ['user', 'system']) | list | length }}|"
                     "{{ {'b': 1, 'a': 2} | dictsort }}|{{ [1, 2, 3] | max }}{{ [1, 2, 3] | min }}|{{ 'a b  c' | wordcount }}|{{ '%s-%d' | format('x', 3) }}",
    "probe_string_methods": "{% set c = messages[0].content %}{{ c.strip() }}|{{ c.lstrip() }}|{{ c.rstrip() }}|{{ c.strip(' H') }}|"
                            "{{ c.split() }}|{{ c.split(',') }}|{{ c.split(',', 1) }}|{{ c.startswith('  He') }}|{{ c.endswith('  ') }}|"
                            "{{ c.upper() }}|{{ c.lower() }}|{{ c.replace('l', 'L') }}|{{ c.find('llo') }}|{{ c.count('l') }}|"
                            "{{ c.strip().title() }}|{{ c.strip().capitalize() }}|{{ c.rsplit(',', 1) }}|{{ c.splitlines() }}|"
                            "{{ 'x' in c }}|{{ 'llo' in c }}|{{ c[2:5] }}|{{ c[-3:] }}|{{ '-'.join(['a', 'b']) }}|{{ c.strip().isalpha() }}|"
                            "{{ messages[0].get('role') }}|{{ messages[0].get('nope', 'dflt') }}|{{ messages[0].keys() | list }}|"
                            "{% for k, v in messages[0].items() %}{{ k }}={{ v }};{% endfor %}",
    "probe_whitespace": "{%- for m in messages -%}\n  {{- m.role -}}\n  {% if loop.last %}\n    end\n  {% endif %}\n{%- endfor %}\n"
                        "  {# comment #}\nA {%- if true %} B {% endif -%} C\n  {%+ if true %}kept{% endif %}\n{{ '  raw  ' }}\n",
    "probe_macro_set_block": "{% macro turn(r, c='?') %}<{{ r }}:{{ c }}>{% endmacro %}{% for m in messages %}{{ turn(m.role, m.content) }}{% endfor %}"
                             "{{ turn('x') }}{% set blk %}block {{ messages | length }}{% endset %}{{ blk }}"
                             "{{ 'yes' if messages else 'no' }}{{ 'a' if none else 'b' }}",
    "probe_generation_tag": "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}"
                            "{% else %}{{ m.content }}{% endif %}|{% endfor %}",
    "probe_raise": "{% if messages | length > 2 %}{{ raise_exception('Too many messages: ' ~ messages | length) }}{% endif %}ok",
    "probe_strftime": "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%A %B %-d %y %I%p %j %%') }}",
    "probe_dict_access": "{% for m in messages %}{{ m.role }}{{ m['role'] }}{% if m.tool_calls %}{{ m.tool_calls[0].function.name }}"
                         "{{ m.tool_calls[0]['function']['arguments'].city }}{% endif %}{% if m.content is none %}N{% endif %};{% endfor %}",
}

PROBE_CONVERSATIONS = [
    ("basic", [{"role": "system", "content": "  Hello, world, again  "}, U1, A1, U2], True, None),
    ("tools", [SYS, WEATHER_Q, CALL_MSG, TOOL_RESULT], False, {"tools": TOOLS}),
]


def cases():
    out = []
    for name in REAL:
        for case in GENERIC:
            out.append((name,) + case)
        if name in ("llama3_2", "qwen2_5", "qwen3", "mistral_nemo", "deepseek_v3"):
            for case in TOOL_CASES:
                out.append((name,) + case)
        for case in SPECIFIC.get(name, []):
            out.append((name,) + case)
    for name in PROBES:
        for case in PROBE_CONVERSATIONS:
            out.append((name,) + case)
    return out


def main():
    env = make_env()
    templates = {}
    sources = {}
    for name, rel in REAL.items():
        tmpl, special = read_config(rel)
        templates[name] = {"dir": rel}
        sources[name] = (tmpl, special)
    for name, text in PROBES.items():
        templates[name] = {"template": text}
        sources[name] = (text, {"bos_token": "<s>", "eos_token": "</s>"})
    result = []
    for tname, cname, messages, agp, variables in cases():
        tmpl, special = sources[tname]
        entry = {"template": tname, "case": cname, "messages": messages, "add_generation_prompt": agp}
        if variables:
            entry["variables"] = variables
        try:
            entry["expected"] = render(env, tmpl, special, messages, agp, variables)
        except Exception as e:  # noqa: BLE001 - every failure is part of the expected behaviour
            raised = type(e) is jinja2.exceptions.TemplateError
            entry["error"] = {"type": type(e).__name__, "message": str(e), "raise_exception": raised}
        result.append(entry)
    golden = {
        "generator": "scripts/golden/make_chat_template_golden.py",
        "jinja2": jinja2.__version__,
        "python": sys.version.split()[0],
        "strftime_now": FIXED_NOW.isoformat(),
        "probe_special_tokens": {"bos_token": "<s>", "eos_token": "</s>"},
        "templates": templates,
        "cases": result,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = sum(1 for c in result if "error" in c)
    print(f"{OUT}: {len(result)} cases ({errors} errors) over {len(templates)} templates")


if __name__ == "__main__":
    main()
