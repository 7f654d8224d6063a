// An API error as the API said it: plain text, kept verbatim (pre), announced to screen readers.

export function ErrorText(props: { text: string | undefined }) {
  if (!props.text) return null;
  return (
    <pre class="error" role="alert">
      {props.text}
    </pre>
  );
}
