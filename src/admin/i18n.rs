//! Every string of the admin UI, Russian first, with the English switch.

use crate::config::Setting;
use crate::domain::{JobStatus, Kind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    /// The language chosen by the `lang` cookie; Russian by default.
    pub fn from_cookie_header(cookies: Option<&str>) -> Lang {
        let chosen = cookies
            .unwrap_or_default()
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == "lang")
            .map(|(_, value)| value);
        if chosen == Some("en") {
            Lang::En
        } else {
            Lang::Ru
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Ru => Lang::En,
            Lang::En => Lang::Ru,
        }
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        }
    }
}

pub struct Strings {
    pub lang_name: &'static str,
    pub nav_settings: &'static str,
    pub nav_jobs: &'static str,
    pub nav_stats: &'static str,
    pub demo_banner: &'static str,
    pub slot: &'static str,
    pub name: &'static str,
    pub name_placeholder: &'static str,
    pub enabled: &'static str,
    pub kind: &'static str,
    pub kind_face_swap: &'static str,
    pub kind_background: &'static str,
    pub kind_prompt: &'static str,
    pub prompt: &'static str,
    pub prompt_placeholder: &'static str,
    pub reference: &'static str,
    pub reference_none: &'static str,
    pub reference_remove: &'static str,
    pub reference_choose: &'static str,
    pub upload_url: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub saving: &'static str,
    pub save_failed: &'static str,
    pub try_it: &'static str,
    pub template_title: &'static str,
    pub raw_prompt: &'static str,
    pub last_error: &'static str,
    pub try_running: &'static str,
    pub ready: &'static str,
    pub not_ready_disabled: &'static str,
    pub not_ready_reference: &'static str,
    pub not_ready_prompt: &'static str,
    pub err_too_long: &'static str,
    pub err_reference_type: &'static str,
    pub err_reference_unreadable: &'static str,
    pub err_form_expired: &'static str,
    pub err_integer: &'static str,
    pub err_url: &'static str,
    pub stats_title: &'static str,
    pub upload_password: &'static str,
    pub upload_password_help: &'static str,
    pub regenerate: &'static str,
    pub regenerate_confirm: &'static str,
    pub set_by_env: &'static str,
    pub processed: &'static str,
    pub failed: &'static str,
    pub timed_out: &'static str,
    pub booth_jobs: &'static str,
    pub test_jobs: &'static str,
    pub per_slot: &'static str,
    pub per_day: &'static str,
    pub no_jobs_yet: &'static str,
    pub deadline: &'static str,
    pub seconds: &'static str,
    pub settings_title: &'static str,
    pub settings_saved: &'static str,
    pub group_general: &'static str,
    pub group_turbotext: &'static str,
    pub group_gemini: &'static str,
    pub group_deepseek: &'static str,
    pub group_images: &'static str,
    pub secret_keep: &'static str,
    pub secret_clear: &'static str,
    pub public_url_from_request: &'static str,
    pub jobs_title: &'static str,
    pub filter: &'static str,
    pub all: &'static str,
    pub time: &'static str,
    pub provider: &'static str,
    pub status: &'static str,
    pub latency: &'static str,
    pub reason: &'static str,
    pub booth: &'static str,
    pub photos: &'static str,
    pub original: &'static str,
    pub result: &'static str,
    pub test_badge: &'static str,
    pub older: &'static str,
    pub status_processing: &'static str,
    pub status_succeeded: &'static str,
    pub status_failed: &'static str,
    pub status_timed_out: &'static str,
    pub status_interrupted: &'static str,
    pub label_public_url: &'static str,
    pub label_deadline_secs: &'static str,
    pub label_keep_failed_in_trash: &'static str,
    pub label_retention_days: &'static str,
    pub label_max_upload_mb: &'static str,
    pub label_max_result_side: &'static str,
    pub label_provider_max_side: &'static str,
    pub label_demo_delay_ms: &'static str,
    pub label_api_key: &'static str,
    pub label_base_url: &'static str,
    pub label_model: &'static str,
}

impl Strings {
    pub fn kind(&self, kind: Kind) -> &'static str {
        match kind {
            Kind::FaceSwap => self.kind_face_swap,
            Kind::Background => self.kind_background,
            Kind::Prompt => self.kind_prompt,
        }
    }

    pub fn status(&self, status: JobStatus) -> &'static str {
        match status {
            JobStatus::Processing => self.status_processing,
            JobStatus::Succeeded => self.status_succeeded,
            JobStatus::Failed => self.status_failed,
            JobStatus::TimedOut => self.status_timed_out,
            JobStatus::Interrupted => self.status_interrupted,
        }
    }

    pub fn setting_label(&self, key: Setting) -> &'static str {
        use Setting as S;
        match key {
            S::PublicUrl => self.label_public_url,
            S::DeadlineSecs => self.label_deadline_secs,
            S::KeepFailedInTrash => self.label_keep_failed_in_trash,
            S::RetentionDays => self.label_retention_days,
            S::MaxUploadMb => self.label_max_upload_mb,
            S::MaxResultSide => self.label_max_result_side,
            S::ProviderMaxSide => self.label_provider_max_side,
            S::DemoDelayMs => self.label_demo_delay_ms,
            S::UploadPassword => self.upload_password,
            S::TurbotextApiKey | S::GeminiApiKey | S::DeepseekApiKey | S::ImagesApiKey => {
                self.label_api_key
            }
            S::TurbotextBaseUrl | S::GeminiBaseUrl | S::DeepseekBaseUrl | S::ImagesBaseUrl => {
                self.label_base_url
            }
            S::GeminiModel | S::DeepseekModel | S::ImagesModel => self.label_model,
        }
    }

    /// Fills `{min}` and `{max}` of the integer error.
    pub fn integer_error(&self, min: i64, max: i64) -> String {
        self.err_integer
            .replace("{min}", &min.to_string())
            .replace("{max}", &max.to_string())
    }
}

pub static RU: Strings = Strings {
    lang_name: "English",
    nav_settings: "Настройки",
    nav_jobs: "История",
    nav_stats: "Статистика",
    demo_banner: "ДЕМО-режим: вместо нейросетей работает встроенный эффект, ключи API не нужны.",
    slot: "Слот",
    name: "Название",
    name_placeholder: "Например: Супергерой",
    enabled: "Включён",
    kind: "Тип обработки",
    kind_face_swap: "Замена лица",
    kind_background: "Замена фона",
    kind_prompt: "По промпту",
    prompt: "Промпт",
    prompt_placeholder: "Что сделать с фото гостя",
    reference: "Референс",
    reference_none: "Нет изображения",
    reference_remove: "Удалить",
    reference_choose: "Выбрать файл",
    upload_url: "Адрес для DSLR Remote Pro",
    copy: "Копировать",
    copied: "Скопировано",
    save: "Сохранить",
    saved: "Сохранено",
    saving: "Сохранение…",
    save_failed: "Не сохранено, проверьте поля",
    try_it: "Попробовать с фото",
    template_title: "Инструкция для модели",
    raw_prompt: "Отправлять промпт как есть, без шаблона",
    last_error: "Последняя ошибка",
    try_running: "Обработка…",
    ready: "Готов к работе",
    not_ready_disabled: "Слот выключен",
    not_ready_reference: "Нужен референс",
    not_ready_prompt: "Нужен промпт",
    err_too_long: "Слишком длинно",
    err_reference_type: "Нужен файл JPEG, PNG или WebP",
    err_reference_unreadable: "Изображение не читается",
    err_form_expired: "Форма устарела, обновите страницу",
    err_integer: "Целое число от {min} до {max}",
    err_url: "Адрес вида https://…",
    stats_title: "Статистика",
    upload_password: "Пароль загрузки",
    upload_password_help: "Введите его в DSLR Remote Pro в поле «password or API key».",
    regenerate: "Создать новый",
    regenerate_confirm: "Создать новый пароль? Фотобудки со старым паролем перестанут загружать фото.",
    set_by_env: "задано переменной окружения",
    processed: "Обработано",
    failed: "Ошибки",
    timed_out: "Таймауты",
    booth_jobs: "Фото с фотобудок",
    test_jobs: "Пробные запуски из админки",
    per_slot: "По слотам",
    per_day: "По дням, последние 30 дней",
    no_jobs_yet: "Пока ни одного фото.",
    deadline: "Время ответа фотобудке",
    seconds: "с",
    settings_title: "Настройки",
    settings_saved: "Настройки сохранены",
    group_general: "Общие",
    group_turbotext: "Turbotext",
    group_gemini: "NanoBanana (Google Gemini)",
    group_deepseek: "DeepSeek (пишет промпт)",
    group_images: "Генератор изображений для вкладки DeepSeek (OpenAI-совместимый)",
    secret_keep: "оставьте пустым, чтобы не менять",
    secret_clear: "удалить",
    public_url_from_request: "пусто: адрес берётся из запроса",
    jobs_title: "История обработки",
    filter: "Показать",
    all: "все",
    time: "Время",
    provider: "Модель",
    status: "Статус",
    latency: "Время, с",
    reason: "Причина",
    booth: "Фотобудка",
    photos: "До / после",
    original: "оригинал",
    result: "результат",
    test_badge: "проба",
    older: "Более ранние →",
    status_processing: "в работе",
    status_succeeded: "готово",
    status_failed: "ошибка",
    status_timed_out: "таймаут",
    status_interrupted: "прервано",
    label_public_url: "Публичный адрес сервера",
    label_deadline_secs: "Срок ответа фотобудке, с",
    label_keep_failed_in_trash: "Хранить неудачные фото в корзине",
    label_retention_days: "Хранить фото, дней (0 — всегда)",
    label_max_upload_mb: "Максимальный размер фото, МБ",
    label_max_result_side: "Максимальная сторона результата, px",
    label_provider_max_side: "Максимальная сторона фото для нейросети, px",
    label_demo_delay_ms: "Пауза демо-эффекта, мс",
    label_api_key: "Ключ API",
    label_base_url: "Адрес API",
    label_model: "Модель",
};

pub static EN: Strings = Strings {
    lang_name: "Русский",
    nav_settings: "Settings",
    nav_jobs: "History",
    nav_stats: "Statistics",
    demo_banner: "DEMO mode: a built-in effect stands in for the AI models; no API keys needed.",
    slot: "Slot",
    name: "Name",
    name_placeholder: "For example: Superhero",
    enabled: "Enabled",
    kind: "Processing type",
    kind_face_swap: "Face swap",
    kind_background: "Background swap",
    kind_prompt: "By prompt",
    prompt: "Prompt",
    prompt_placeholder: "What to do with the guest's photo",
    reference: "Reference",
    reference_none: "No image",
    reference_remove: "Remove",
    reference_choose: "Choose file",
    upload_url: "URL for DSLR Remote Pro",
    copy: "Copy",
    copied: "Copied",
    save: "Save",
    saved: "Saved",
    saving: "Saving…",
    save_failed: "Not saved, check the fields",
    try_it: "Try with a photo",
    template_title: "Instruction sent to the model",
    raw_prompt: "Send the prompt as it is, without the template",
    last_error: "Last error",
    try_running: "Processing…",
    ready: "Ready",
    not_ready_disabled: "Slot is off",
    not_ready_reference: "Needs a reference image",
    not_ready_prompt: "Needs a prompt",
    err_too_long: "Too long",
    err_reference_type: "Needs a JPEG, PNG or WebP file",
    err_reference_unreadable: "The image cannot be read",
    err_form_expired: "The form is out of date, reload the page",
    err_integer: "A whole number from {min} to {max}",
    err_url: "An address like https://…",
    stats_title: "Statistics",
    upload_password: "Upload password",
    upload_password_help: "Enter it in DSLR Remote Pro's \"password or API key\" field.",
    regenerate: "Generate new",
    regenerate_confirm: "Generate a new password? Booths with the old one will stop uploading.",
    set_by_env: "set by the environment",
    processed: "Processed",
    failed: "Failed",
    timed_out: "Timed out",
    booth_jobs: "Photos from booths",
    test_jobs: "Test runs from the admin",
    per_slot: "Per slot",
    per_day: "Per day, last 30 days",
    no_jobs_yet: "No photos yet.",
    deadline: "Answer deadline",
    seconds: "s",
    settings_title: "Settings",
    settings_saved: "Settings saved",
    group_general: "General",
    group_turbotext: "Turbotext",
    group_gemini: "NanoBanana (Google Gemini)",
    group_deepseek: "DeepSeek (writes the prompt)",
    group_images: "Image generator for the DeepSeek tab (OpenAI-compatible)",
    secret_keep: "leave empty to keep",
    secret_clear: "remove",
    public_url_from_request: "empty: taken from the request",
    jobs_title: "Job history",
    filter: "Show",
    all: "all",
    time: "Time",
    provider: "Model",
    status: "Status",
    latency: "Time, s",
    reason: "Reason",
    booth: "Booth",
    photos: "Before / after",
    original: "original",
    result: "result",
    test_badge: "test",
    older: "Older →",
    status_processing: "processing",
    status_succeeded: "done",
    status_failed: "failed",
    status_timed_out: "timed out",
    status_interrupted: "interrupted",
    label_public_url: "Public URL of this server",
    label_deadline_secs: "Deadline for the booth's answer, s",
    label_keep_failed_in_trash: "Keep failed photos in the trash",
    label_retention_days: "Keep photos, days (0: forever)",
    label_max_upload_mb: "Largest photo, MB",
    label_max_result_side: "Largest side of the result, px",
    label_provider_max_side: "Largest side sent to the model, px",
    label_demo_delay_ms: "Demo effect pause, ms",
    label_api_key: "API key",
    label_base_url: "API base URL",
    label_model: "Model",
};
