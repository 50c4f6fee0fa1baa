const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

/**
 * Python's `datetime.strftime` in the C locale (English names), which is what transformers'
 * `strftime_now` global gives templates such as Llama 3.1's "Today Date: 26 Jul 2024". The
 * @huggingface/jinja built-in follows the system locale instead, so the same template would render
 * a different prompt on a machine set to another language.
 */
export function strftime(date: Date, format: string): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const dayOfYear = Math.floor(
    (Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86_400_000,
  ) + 1;
  return format.replace(/%[a-zA-Z%]/g, (t) => {
    switch (t) {
      case '%Y': return String(date.getFullYear());
      case '%y': return p2(date.getFullYear() % 100);
      case '%m': return p2(date.getMonth() + 1);
      case '%d': return p2(date.getDate());
      case '%e': return String(date.getDate()).padStart(2, ' ');
      case '%b': return MONTHS[date.getMonth()].slice(0, 3);
      case '%B': return MONTHS[date.getMonth()];
      case '%a': return DAYS[date.getDay()].slice(0, 3);
      case '%A': return DAYS[date.getDay()];
      case '%H': return p2(date.getHours());
      case '%I': return p2(date.getHours() % 12 || 12);
      case '%p': return date.getHours() < 12 ? 'AM' : 'PM';
      case '%M': return p2(date.getMinutes());
      case '%S': return p2(date.getSeconds());
      case '%j': return String(dayOfYear).padStart(3, '0');
      case '%%': return '%';
      default: return t;
    }
  });
}
