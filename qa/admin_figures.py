"""The question admin's figures: upload, alt text, caption, and the snippet to paste."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from qa.figures import MAX_BYTES, encode_figure
from qa.models import Figure
from resources.imaging import ImageToolError


class FigureForm(forms.ModelForm):
    """Re-encodes the upload while validating, so a bad image is an error on
    the field (naming the file) and nothing is stored."""

    upload = forms.FileField(
        label=_("image file"),
        required=False,
        allow_empty_file=True,  # the image checks give the clearer message
        help_text=_("PNG, JPEG, WebP, GIF, BMP or TIFF; at most 20 MiB and 40 megapixels."),
    )

    class Meta:
        model = Figure
        fields = ["name", "alt", "caption"]

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload is None:
            if not self.instance.image:
                raise forms.ValidationError(_("Choose an image file for this figure."), code="required")
            return None
        if upload.size > MAX_BYTES:
            reason = gettext("The file is larger than %(mib)d MiB.") % {"mib": MAX_BYTES // 2**20}
            raise self._refused(upload.name, reason)
        try:
            self.encoded = encode_figure(upload.read())
        except ImageToolError as exc:
            raise self._refused(upload.name, exc.translated(gettext)) from exc
        return upload

    @staticmethod
    def _refused(filename: str, reason: str) -> forms.ValidationError:
        return forms.ValidationError(
            _("“%(file)s” cannot be used: %(reason)s"),
            code="invalid_image",
            params={"file": filename, "reason": reason},
        )

    def save(self, commit=True):
        figure = super().save(commit=False)
        if getattr(self, "encoded", None) is not None:
            figure.store(self.encoded)
        if commit:
            figure.save()
        return figure


class FigureInline(admin.StackedInline):
    model = Figure
    form = FigureForm
    extra = 0
    fields = ["name", "upload", "preview", "alt", "caption", "snippet", "size"]
    readonly_fields = ["preview", "snippet", "size"]

    @admin.display(description=_("stored image"))
    def preview(self, figure):
        if not figure.image:
            return "—"
        ref = figure.as_ref()
        return format_html(
            '<img class="figure-admin-preview" src="{}" alt="{}" width="{}" height="{}">',
            ref.narrow_url or ref.url,
            figure.alt,
            figure.narrow_width or figure.width,
            round(figure.height * (figure.narrow_width or figure.width) / max(figure.width, 1)),
        )

    @admin.display(description=_("Markdown to show it"))
    def snippet(self, figure):
        if not figure.pk:
            return _("Shown once the figure is saved.")
        return format_html('<code class="figure-snippet">{}</code>', figure.snippet)

    @admin.display(description=_("size in pixels"))
    def size(self, figure):
        return f"{figure.width} × {figure.height}" if figure.width else "—"
