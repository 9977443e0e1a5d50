import { afterEach, describe, expect, it } from "vitest";
import { lang, setLang, t, words } from "../i18n";
import { EVENTS, label, optionLabel, CHOICES } from "../labels";
import { nameOf, type Field } from "../schemaForm";

describe("English as an option", () => {
  afterEach(() => setLang("zh"));

  it("speaks Chinese until asked, then English, and remembers it in this browser", () => {
    expect(lang.value).toBe("zh");
    expect(t("待办")).toBe("待办");
    expect(label(EVENTS, "NOT_FILED")).toBe("不予立案");
    setLang("en");
    expect(localStorage.getItem("hub-lang")).toBe("en");
    expect(document.documentElement.lang).toBe("en");
    expect(t("待办")).toBe("Inbox");
    expect(label(EVENTS, "NOT_FILED")).toBe("Not filed");
    expect(optionLabel(CHOICES, "HOTLINE_12345")).toBe("Hotline 12345 (HOTLINE_12345)");
    expect(t("没有英文的词")).toBe("没有英文的词"); // a word without its English stays readable
  });

  it("names a form's field by the English half of its description", () => {
    const field = { label: "涉嫌罪名", hint: "suspected offence" } as Field;
    expect(nameOf(field, "zh")).toBe("涉嫌罪名");
    expect(nameOf(field, "en")).toBe("Suspected offence");
    expect(words("CASE_TRANSFER")).toBe("Case transfer");
  });
});
